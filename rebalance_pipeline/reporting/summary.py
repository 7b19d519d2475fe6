"""The one-screen text of ``rebalance summary --date D``."""

from __future__ import annotations

import polars as pl

from rebalance_pipeline.reporting.cells import dollars
from rebalance_pipeline.tables import ROUTES


def summary_report(
    decisions: pl.DataFrame,
    released: pl.DataFrame,
    results: pl.DataFrame,
    was_released: bool = True,
) -> str:
    """Accounts per route and review level, then the released trades' totals.

    ``decisions``: ROUTING_DECISIONS; ``released``: released trades (RELEASED_TRADES);
    ``results``: OPTIMIZATION_RESULTS (taxes are those of accounts with released trades);
    ``was_released``: false when the date's trades went only to replays (a backfill),
    which the trades line then says.
    """
    lines = [f"accounts: {decisions.height}", "route        auto  review  total"]
    for route in ROUTES:
        rows = decisions.filter(pl.col("route") == route)
        auto = rows.filter(pl.col("review") == "auto").height
        review = rows.filter(pl.col("review") == "review").height
        lines.append(f"{route:<11} {auto:>5} {review:>7} {rows.height:>6}")
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
