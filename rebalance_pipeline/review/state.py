"""Where review left a date's queued trades: released (approved or modified, at the
quantity released), rejected, or still awaiting a decision.

A queued trade without a settled decision (REVIEW_OUTCOMES holds only settled ones) still
awaits review. ``summary``, the daily report and the Dagster metadata of
``review_outcomes`` all count from here.
"""

from __future__ import annotations

import dataclasses

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.review.queue import TRADE_KEY
from rebalance_pipeline.routing.route import RELEASED_TRADES


@dataclasses.dataclass(frozen=True)
class ReviewState:
    """A date's review queue (REVIEW_QUEUE) and its settled decisions (REVIEW_OUTCOMES)."""

    queue: pl.DataFrame
    outcomes: pl.DataFrame

    def released(self) -> pl.DataFrame:
        """The trades review released, at the quantity and amount released (RELEASED_TRADES)."""
        return t.conform(self.outcomes.filter(pl.col("decision") != "reject"), RELEASED_TRADES)

    def rejected(self) -> pl.DataFrame:
        return t.conform(self.outcomes.filter(pl.col("decision") == "reject"), RELEASED_TRADES)

    def awaiting(self) -> pl.DataFrame:
        """The queued trades without a settled decision (RELEASED_TRADES)."""
        decided = self.outcomes.select(TRADE_KEY).unique()
        waiting = self.queue.join(decided, on=TRADE_KEY, how="anti", nulls_equal=True)
        return t.conform(waiting, RELEASED_TRADES)

    def account_counts(self) -> tuple[int, int, int]:
        """Accounts approved (or modified), rejected (every trade) and still undecided."""
        settled = self.outcomes.group_by("account_id").agg(
            (pl.col("decision") == "reject").all().alias("rejected")
        )
        rejected = int(settled["rejected"].sum())
        waiting = self.queue.join(settled, on="account_id", how="anti")["account_id"].n_unique()
        return settled.height - rejected, rejected, waiting

    def line(self) -> str:
        approved, rejected, waiting = self.account_counts()
        return (
            f"review decisions: {approved} accounts approved or modified, "
            f"{rejected} rejected, {waiting} awaiting review"
        )

    def trade_states(self, released_by_run: pl.DataFrame) -> pl.DataFrame:
        """state, trades, accounts: one row per state, in the order a trade moves;
        ``released_by_run``: the trades the run released without review."""
        states = {
            "released automatically": released_by_run,
            "released after review": self.released(),
            "awaiting review": self.awaiting(),
            "rejected in review": self.rejected(),
        }
        return pl.DataFrame(
            [(name, f.height, f["account_id"].n_unique()) for name, f in states.items()],
            schema={"state": pl.String, "trades": pl.Int64, "accounts": pl.Int64},
            orient="row",
        )

    def decisions_markdown(self) -> str:
        """Every settled decision as a Markdown table (account, trade, who, when, note)."""
        header = "| account | trade | decision | quantity | reviewer | decided at | note |"
        rows = [
            f"| {r['account_id']} | {r['side']} {r['security_id']}"
            f"{' lot ' + r['lot_id'] if r['lot_id'] else ''} | {r['decision']} | "
            f"{r['quantity']:g} | {r['reviewer']} | {r['decided_at']} | {r['note'] or ''} |"
            for r in self.outcomes.sort("account_id", "security_id", "side").iter_rows(named=True)
        ]
        return "\n".join([header, "|---|---|---|---:|---|---|---|", *rows])
