"""What must hold on every simulated day, re-derived from the books the stages saw and
the fills, never from the engine's own bookkeeping.

Each check returns a list of violations (empty: the day is sound)."""

from __future__ import annotations

from collections import defaultdict

import polars as pl

from rebalance_pipeline.features.macros import active_on
from rebalance_pipeline.simulation.engine import SimulatedDay
from rebalance_pipeline.simulation.world import World

CENT = 0.01 + 1e-9
SHARES = 1e-9
WASH_DAYS = 30
TRADED_ROUTES = ("MANDATE", "SCORE")


def holdings_and_cash(
    lots: pl.DataFrame, cash: pl.DataFrame
) -> tuple[dict[tuple[str, str], float], dict[str, float], dict[str, float]]:
    """Shares per (account, security), cash per account and shares per lot."""
    shares: dict[tuple[str, str], float] = defaultdict(float)
    for account, security, quantity in lots.select(
        "account_id", "security_id", "quantity"
    ).iter_rows():
        shares[(account, security)] += quantity
    by_lot = dict(lots.select("lot_id", "quantity").iter_rows())
    return shares, dict(cash.select("account_id", "cash").iter_rows()), by_lot


def start_of(world: World) -> tuple[dict, dict, dict]:
    cash = pl.DataFrame({"account_id": world.accounts["account_id"], "cash": world.cash})
    return holdings_and_cash(world.lots, cash)


def of_book(day: SimulatedDay) -> tuple[dict, dict, dict]:
    return holdings_and_cash(day.book.lots, day.book.cash_balances)


def reconciliation(before: tuple[dict, dict, dict], today: SimulatedDay) -> list[str]:
    """Yesterday's holdings and cash plus today's fills and cash flows are today's book;
    a sell takes no more than its lot held, a buy opens a lot dated today; cash >= 0."""
    shares, cash, lots = (defaultdict(float, before[0]), defaultdict(float, before[1]), before[2])
    found = []
    sold: dict[str, float] = defaultdict(float)
    for fill in today.fills.iter_rows(named=True):
        key = (fill["account_id"], fill["security_id"])
        if fill["side"] == "sell":
            sold[fill["lot_id"]] += fill["quantity"]
            shares[key] -= fill["quantity"]
            cash[fill["account_id"]] += fill["amount"] - fill["cost"]
        else:
            if fill["lot_id"] in lots:
                found.append(f"buy {fill['lot_id']} reuses an open lot")
            shares[key] += fill["quantity"]
            cash[fill["account_id"]] -= fill["amount"] + fill["cost"]
    for lot_id, quantity in sold.items():
        if quantity > lots.get(lot_id, 0.0) + SHARES:
            found.append(f"lot {lot_id} sold {quantity} of {lots.get(lot_id, 0.0)} held")
    for account, amount in today.cash_flows.iter_rows():
        cash[account] += amount
    book_shares, book_cash, _ = of_book(today)
    for key in set(shares) | set(book_shares):
        if abs(shares.get(key, 0.0) - book_shares.get(key, 0.0)) > SHARES:
            found.append(f"{key}: {shares.get(key)} expected, book {book_shares.get(key)}")
    for account in set(cash) | set(book_cash):
        if abs(cash.get(account, 0.0) - book_cash.get(account, 0.0)) > CENT:
            found.append(f"{account} cash {cash.get(account)} expected, {book_cash.get(account)}")
        if book_cash.get(account, 0.0) < 0:
            found.append(f"{account} cash negative: {book_cash[account]}")
    bought = today.fills.filter(pl.col("side") == "buy")["lot_id"]
    opened = today.book.lots.filter(pl.col("lot_id").is_in(bought.to_list()))
    if opened.height != bought.len() or (opened["acquired_date"] != today.book.as_of).any():
        found.append(f"bought lots not opened today: {sorted(bought.to_list())}")
    return found


def untradable_accounts(yesterday: SimulatedDay, today: SimulatedDay) -> list[str]:
    """Fills only for accounts routed to trade yesterday, whose data was fine and which
    were not held; no fill of a security halted on the decision or the fill day."""
    decided = yesterday.outputs.routing.decisions
    routed = set(decided.filter(pl.col("route").is_in(TRADED_ROUTES))["account_id"])
    suspended = set(
        yesterday.outputs.validation.account_status.filter(pl.col("status") != "ok")["account_id"]
    )
    held = set(active_on(yesterday.book.holds, yesterday.book.as_of)["account_id"])
    halted = set(active_on(yesterday.book.halts, yesterday.book.as_of)["security_id"]) | set(
        active_on(today.book.halts, today.book.as_of)["security_id"]
    )
    found = []
    for account, security in today.fills.select("account_id", "security_id").iter_rows():
        if account not in routed or account in suspended or account in held:
            found.append(f"{account} filled {security} but was not free to trade yesterday")
        if security in halted:
            found.append(f"{account} filled halted {security}")
    return found


def wash_sales(history: pl.DataFrame, today: SimulatedDay, today_fills: pl.DataFrame) -> list[str]:
    """No loss sale in a taxable account with a buy of a substantially identical security
    in any account of the household within 30 days either side (other than the buy that
    opened the lot sold: shares are not their own replacement), among fills so far;
    ``history`` is every earlier fill as ``annotated``.

    A loss sale is one the stages decided as a loss (its gain at the decision day's
    close): a sale decided at a small gain can fill at a loss at the next close, which
    no rule of the decision day could see."""
    book = today.book
    fills = pl.concat([history, today_fills], how="diagonal_relaxed")
    losses = fills.filter(
        (pl.col("side") == "sell")
        & (pl.col("decided_gain") < 0)
        & (pl.col("registration") == "taxable")
    )
    buys = fills.filter(pl.col("side") == "buy")
    pairs = losses.join(buys, on=["household_id", "identical_group"], suffix="_buy").filter(
        (pl.col("lot_id") != pl.col("lot_id_buy"))
        & ((pl.col("day") - pl.col("day_buy")).dt.total_days().abs() <= WASH_DAYS)
        & ((pl.col("day") == book.as_of) | (pl.col("day_buy") == book.as_of))
    )
    return [
        f"{r['household_id']}: loss sale {r['lot_id']} on {r['day']} and buy {r['lot_id_buy']}"
        f" on {r['day_buy']} ({r['identical_group']})"
        for r in pairs.iter_rows(named=True)
    ]


def days_since_trade(yesterday: SimulatedDay | None, today: SimulatedDay) -> list[str]:
    """0 on a day with fills; otherwise yesterday's count plus the calendar days between,
    null until the first fill."""
    before = (
        {}
        if yesterday is None
        else dict(yesterday.account_days.select("account_id", "days_since_last_trade").iter_rows())
    )
    gap = 0 if yesterday is None else (today.book.as_of - yesterday.book.as_of).days
    found = []
    for account, traded, days in today.account_days.select(
        "account_id", "traded", "days_since_last_trade"
    ).iter_rows():
        previous = before.get(account)
        expected = 0 if traded else (None if previous is None else previous + gap)
        if days != expected:
            found.append(f"{account}: days since last trade {days}, expected {expected}")
    return found


def day_violations(
    world: World, yesterday: SimulatedDay | None, today: SimulatedDay, history: pl.DataFrame
) -> list[str]:
    before = start_of(world) if yesterday is None else of_book(yesterday)
    found = reconciliation(before, today)
    found += wash_sales(history, today, annotated(yesterday, today))
    found += days_since_trade(yesterday, today)
    if yesterday is not None:
        found += untradable_accounts(yesterday, today)
    elif today.fills.height:
        found.append("fills on the first day, before any decision")
    return [f"{today.book.as_of}: {v}" for v in found]


def annotated(yesterday: SimulatedDay | None, today: SimulatedDay) -> pl.DataFrame:
    """Today's fills with the facts the wash-sale check joins on, and each sell's gain
    as the stages decided it yesterday (``decided_gain``)."""
    book = today.book
    decided = (
        pl.DataFrame(schema={"lot_id": pl.String, "decided_gain": pl.Float64})
        if yesterday is None
        else yesterday.outputs.routing.released_trades.filter(pl.col("side") == "sell").select(
            "lot_id", decided_gain="realized_gain"
        )
    )
    return (
        today.fills.join(
            book.accounts.select("account_id", "household_id", "registration"), on="account_id"
        )
        .join(book.securities.select("security_id", "identical_group"), on="security_id")
        .join(decided, on="lot_id", how="left")
    )
