"""The one-screen text of ``rebalance summary --date D``."""

from __future__ import annotations

import dataclasses

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.reporting.cells import dollars
from rebalance_pipeline.tables import ROUTES


@dataclasses.dataclass(frozen=True)
class ReviewState:
    """A date's review queue (REVIEW_QUEUE) and its settled decisions (REVIEW_OUTCOMES)."""

    queue: pl.DataFrame
    outcomes: pl.DataFrame

    def released(self) -> pl.DataFrame:
        """The trades review released, at the quantity and amount released."""
        return self.outcomes.filter(pl.col("decision") != "reject")

    def counts(self) -> tuple[int, int, int]:
        """Accounts approved (or modified), rejected (every trade) and still undecided."""
        settled = self.outcomes.group_by("account_id").agg(
            (pl.col("decision") == "reject").all().alias("rejected")
        )
        rejected = int(settled["rejected"].sum())
        waiting = self.queue.join(settled, on="account_id", how="anti")["account_id"].n_unique()
        return settled.height - rejected, rejected, waiting

    def line(self) -> str:
        approved, rejected, waiting = self.counts()
        return (
            f"review decisions: {approved} accounts approved or modified, "
            f"{rejected} rejected, {waiting} awaiting review"
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


def summary_report(
    decisions: pl.DataFrame,
    released: pl.DataFrame,
    results: pl.DataFrame,
    was_released: bool = True,
    review: ReviewState | None = None,
) -> str:
    """Accounts per route and review level, what review decided, then the totals of the
    trades released, review releases included.

    ``decisions``: ROUTING_DECISIONS; ``released``: the trades the run released
    (RELEASED_TRADES); ``results``: OPTIMIZATION_RESULTS (taxes are those of accounts with
    released trades); ``was_released``: false when the date's trades went only to replays
    (a backfill), which the trades line then says; ``review``: the queue and its settled
    decisions, when the date has a review queue.
    """
    lines = [f"accounts: {decisions.height}", "route        auto  review  total"]
    for route in ROUTES:
        rows = decisions.filter(pl.col("route") == route)
        auto = rows.filter(pl.col("review") == "auto").height
        reviewed = rows.filter(pl.col("review") == "review").height
        lines.append(f"{route:<11} {auto:>5} {reviewed:>7} {rows.height:>6}")
    if review is not None:
        lines.append(review.line())
        released = pl.concat([released, t.conform(review.released(), released.schema)])
    traded = released["account_id"].unique().implode()
    taxed = results.filter(pl.col("account_id").is_in(traded))
    sells = released.filter(pl.col("side") == "sell")
    gains = sells.filter(pl.col("realized_gain") > 0)["realized_gain"].sum()
    losses = abs(sells.filter(pl.col("realized_gain") < 0)["realized_gain"].sum())
    buys = released.filter(pl.col("side") == "buy")
    lines += [
        f"{'released trades' if was_released else 'trades of the replay (nothing released)'}:"
        f" {released.height} in {released['account_id'].n_unique()} accounts",
        f"turnover: {dollars(released['amount'].sum())}"
        f" (buys {dollars(buys['amount'].sum())}, sells {dollars(sells['amount'].sum())})",
        f"estimated taxes: {dollars(taxed['cost_tax_usd'].sum())}",
        f"realized gains: {dollars(gains)}",
        f"harvested losses: {dollars(losses)}",
    ]
    return "\n".join(lines)
