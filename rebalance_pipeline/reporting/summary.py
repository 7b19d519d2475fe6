"""The one-screen text of ``rebalance summary --date D``, and the counts and money totals
it shares with the daily report."""

from __future__ import annotations

import dataclasses

import polars as pl

from rebalance_pipeline.reporting.cells import dollars
from rebalance_pipeline.tables import ROUTES


def route_review_counts(decisions: pl.DataFrame) -> pl.DataFrame:
    """Accounts per route (every route of ROUTES, in order) and review level: columns
    route, auto, review, total (total counts accounts without trades too)."""
    rows = []
    for route in ROUTES:
        routed = decisions.filter(pl.col("route") == route)
        auto = routed.filter(pl.col("review") == "auto").height
        review = routed.filter(pl.col("review") == "review").height
        rows.append((route, auto, review, routed.height))
    return pl.DataFrame(
        rows,
        schema={"route": pl.String, "auto": pl.Int64, "review": pl.Int64, "total": pl.Int64},
        orient="row",
    )


@dataclasses.dataclass(frozen=True)
class TradeTotals:
    """Money of a set of released trades, in dollars."""

    trades: int
    accounts: int
    buys: float
    sells: float
    estimated_taxes: float  # of the accounts with trades (taxable accounts only)
    realized_gains: float
    harvested_losses: float  # positive; realized gains exist only in taxable accounts

    @property
    def turnover(self) -> float:
        return self.buys + self.sells


def trade_totals(released: pl.DataFrame, results: pl.DataFrame) -> TradeTotals:
    """``released``: RELEASED_TRADES; ``results``: OPTIMIZATION_RESULTS (the taxes counted
    are those of the accounts with released trades)."""
    traded = released["account_id"].unique().implode()
    taxed = results.filter(pl.col("account_id").is_in(traded))
    sells = released.filter(pl.col("side") == "sell")
    return TradeTotals(
        trades=released.height,
        accounts=released["account_id"].n_unique(),
        buys=released.filter(pl.col("side") == "buy")["amount"].sum(),
        sells=sells["amount"].sum(),
        estimated_taxes=taxed["cost_tax_usd"].sum(),
        realized_gains=sells.filter(pl.col("realized_gain") > 0)["realized_gain"].sum(),
        harvested_losses=abs(sells.filter(pl.col("realized_gain") < 0)["realized_gain"].sum()),
    )


def summary_report(
    decisions: pl.DataFrame,
    released: pl.DataFrame,
    results: pl.DataFrame,
    was_released: bool = True,
    review_line: str | None = None,
) -> str:
    """Accounts per route and review level, what review decided, then the totals of the
    trades released, review releases included.

    ``decisions``: ROUTING_DECISIONS; ``released``: the trades released by the run and by
    review (RELEASED_TRADES); ``results``: OPTIMIZATION_RESULTS (taxes are those of accounts
    with released trades); ``was_released``: false when the date's trades went only to
    replays (a backfill), which the trades line then says; ``review_line``: what review
    decided, when the date has a review queue.
    """
    lines = [f"accounts: {decisions.height}", "route        auto  review  total"]
    lines += [
        f"{route:<11} {auto:>5} {reviewed:>7} {total:>6}"
        for route, auto, reviewed, total in route_review_counts(decisions).iter_rows()
    ]
    if review_line is not None:
        lines.append(review_line)
    totals = trade_totals(released, results)
    lines += [
        f"{'released trades' if was_released else 'trades of the replay (nothing released)'}:"
        f" {totals.trades} in {totals.accounts} accounts",
        f"turnover: {dollars(totals.turnover)}"
        f" (buys {dollars(totals.buys)}, sells {dollars(totals.sells)})",
        f"estimated taxes: {dollars(totals.estimated_taxes)}",
        f"realized gains: {dollars(totals.realized_gains)}",
        f"harvested losses: {dollars(totals.harvested_losses)}",
    ]
    return "\n".join(lines)
