"""The one-screen text of ``rebalance summary --date D``."""

from __future__ import annotations

import polars as pl

from rebalance_pipeline.tables import ROUTES


def summary_report(decisions: pl.DataFrame, released: pl.DataFrame, results: pl.DataFrame) -> str:
    """Accounts per route and review level, then the released trades' totals.

    ``decisions``: ROUTING_DECISIONS; ``released``: released trades (RELEASED_TRADES);
    ``results``: OPTIMIZATION_RESULTS (taxes are those of accounts with released trades).
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
    lines += [
        f"released trades: {released.height} in {released['account_id'].n_unique()} accounts",
        f"turnover: ${released['amount'].sum():,.2f}"
        f" (buys ${released.filter(pl.col('side') == 'buy')['amount'].sum():,.2f},"
        f" sells ${sells['amount'].sum():,.2f})",
        f"estimated taxes: ${taxed['cost_tax_usd'].sum():,.2f}",
        f"realized gains: ${gains:,.2f}",
        f"harvested losses: ${losses:,.2f}",
    ]
    return "\n".join(lines)
