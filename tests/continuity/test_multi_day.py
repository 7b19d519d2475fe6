"""Monday releases the withdrawal's sells; Tuesday's files do not show them yet;
Wednesday's show them, one sell only partly filled.

Monday (p03): sell 2049 SEC-BOND @ 80 (lot A03-L-BOND-LOSS of 2500), sell 114 SEC-TMKT
@ 250, buy 1104 SEC-BND2 @ 100; cash 2,000; request A03-CR1 of 60,000 due Monday.
"""

from __future__ import annotations

import polars as pl
import pytest
from continuity_days import MONDAY, TUESDAY, WEDNESDAY, book_on, release_day, run_day

from rebalance_pipeline.continuity import read_ledger

BOND_SOLD, TMKT_SOLD, BND2_BOUGHT = 2049.0, 114.0, 1104.0
CUSTODIAN_ROW = {"custodian": "scenario", "source_file": "wednesday.csv", "source_row": 1}


@pytest.fixture(scope="module")
def monday(p03, tmp_path_factory):
    book, policy = p03
    home = tmp_path_factory.mktemp("home")
    carried, outputs = run_day(book, policy, home)
    manifest = release_day(carried, outputs, home)
    return home, outputs, manifest


def released_sells(outputs) -> pl.DataFrame:
    return outputs.routing.released_trades.filter(pl.col("side") == "sell")


def test_monday_releases_the_withdrawal_and_records_it(monday):
    home, outputs, manifest = monday
    trades = outputs.routing.released_trades.sort("security_id")
    assert trades.select("security_id", "side", "quantity").rows() == [
        ("SEC-BND2", "buy", BND2_BOUGHT),
        ("SEC-BOND", "sell", BOND_SOLD),
        ("SEC-TMKT", "sell", TMKT_SOLD),
    ]
    assert manifest.release is True
    ledger = read_ledger(home, TUESDAY)
    assert ledger.trades.height == 3
    assert ledger.raised_requests.select("request_id", "amount").rows() == [("A03-CR1", 60000.0)]
    assert read_ledger(home, MONDAY).trades.is_empty()  # only earlier dates count


@pytest.fixture(scope="module")
def tuesday(p03, monday):
    book, policy = p03
    home, *_ = monday
    return run_day(book_on(book, TUESDAY), policy, home)


def test_tuesday_nets_the_unexecuted_trades_instead_of_trading_again(tuesday, monday):
    carried, outputs = tuesday
    monday_sells = released_sells(monday[1])
    tmkt_lot = monday_sells.filter(pl.col("security_id") == "SEC-TMKT")["lot_id"].item()
    pending = carried.pending_orders.sort("security_id")
    assert pending.select("security_id", "open_quantity", "status").rows() == [
        ("SEC-BND2", BND2_BOUGHT, "open"),
        ("SEC-BOND", BOND_SOLD, "open"),
        ("SEC-TMKT", TMKT_SOLD, "open"),
    ]
    lots = dict(carried.book.lots.select("lot_id", "quantity").iter_rows())
    assert lots["A03-L-BOND-LOSS"] == 2500 - BOND_SOLD
    assert lots[tmkt_lot] == {"A03-L-TMKT-LT": 920.0, "A03-L-TMKT-ST": 200.0}[tmkt_lot] - TMKT_SOLD
    assert lots[f"pending-{monday[2].batch_id}-SEC-BND2"] == BND2_BOUGHT
    # 2,000 + 2049*80 + 114*250 - 1104*100 - 60,000 reserved for the raised request
    assert carried.book.cash_balances["cash"].item() == pytest.approx(24020.0)
    # the request was raised on Monday: not a mandate again, no second withdrawal
    assert carried.book.cash_requests.is_empty()
    assert carried.cash_request_status["status"].to_list() == ["raised"]
    result = outputs.optimization_results.row(0, named=True)
    assert result["required_cash"] == 0.0
    assert result["cash_before"] == pytest.approx(24020.0)
    assert "cash_request" not in outputs.features["mandates"]["mandate"].to_list()
    # Monday's sells are never proposed again: nothing sells beyond what is left unsold
    for sell in outputs.proposed_trades.filter(pl.col("side") == "sell").iter_rows(named=True):
        assert sell["quantity"] <= lots[sell["lot_id"]] + 1e-9
    # the unexecuted loss sale still opens its wash-sale window: 2049 x (80 - 220,000 / 2,500)
    sale = carried.book.transactions.filter(pl.col("security_id") == "SEC-BOND").row(0, named=True)
    assert (sale["trade_date"], sale["realized_gain"]) == (MONDAY, pytest.approx(-16392.0))
    windows = outputs.features["wash_sale_windows"].filter(pl.col("blocks") == "buy")
    assert windows.select("identical_group", "source_transaction_id").rows() == [
        ("AGG_BOND", sale["transaction_id"])
    ]
    # the firm's own release is the account's last trade
    days = outputs.features["days_since_trade"].row(0, named=True)
    assert days["last_firm_trade_date"] == MONDAY
    assert days["days_since_last_trade"] == 1


def test_tuesday_holds_the_account_under_the_hold_policy(p03, monday):
    book, policy = p03
    hold = policy.model_copy(
        update={"continuity": policy.continuity.model_copy(update={"pending_orders": "hold"})}
    )
    carried, outputs = run_day(book_on(book, TUESDAY), hold, monday[0])
    lots = dict(carried.book.lots.select("lot_id", "quantity").iter_rows())
    assert lots["A03-L-BOND-LOSS"] == 2500.0  # not netted
    decision = outputs.routing.decisions.row(0, named=True)
    assert (decision["route"], decision["reasons"]) == ("HOLD", ["pending_orders"])
    assert outputs.routing.released_trades.is_empty()


def executed(monday_trades: pl.DataFrame, tmkt_filled: float) -> pl.DataFrame:
    """Tuesday's custodian transactions: every trade filled except 14 of the TMKT sell,
    and the withdrawal paid."""
    rows = []
    for n, trade in enumerate(monday_trades.iter_rows(named=True)):
        quantity = tmkt_filled if trade["security_id"] == "SEC-TMKT" else trade["quantity"]
        sign = 1.0 if trade["side"] == "sell" else -1.0
        rows.append(
            {
                "transaction_id": f"X{n}",
                "account_id": "A03",
                "trade_date": TUESDAY,
                "type": trade["side"],
                "security_id": trade["security_id"],
                "quantity": quantity,
                "price": trade["price"],
                "amount": sign * quantity * trade["price"],
                "lot_id": trade["lot_id"],
                **CUSTODIAN_ROW,
            }
        )
    rows.append(
        {
            "transaction_id": "W1",
            "account_id": "A03",
            "trade_date": TUESDAY,
            "type": "withdrawal",
            "amount": -60000.0,
            **CUSTODIAN_ROW,
        }
    )
    return pl.DataFrame(rows)


@pytest.fixture(scope="module")
def wednesday(p03, monday):
    """Wednesday's files show Tuesday's executions: 100 of the 114 TMKT shares sold."""
    book, policy = p03
    home, outputs, _ = monday
    trades = outputs.routing.released_trades
    sold = trades.filter(pl.col("side") == "sell").with_columns(
        pl.when(pl.col("security_id") == "SEC-TMKT").then(100.0).otherwise("quantity").alias("q")
    )
    lots = book.lots.join(sold.select("lot_id", "q"), on="lot_id", how="left").with_columns(
        pl.col("quantity") - pl.col("q").fill_null(0.0)
    )
    new_lot = book.lots.head(1).with_columns(
        pl.lit("A03-L-BND2-NEW").alias("lot_id"),
        pl.lit("SEC-BND2").alias("security_id"),
        pl.lit("SEC-BND2").alias("symbol"),
        pl.lit(BND2_BOUGHT).alias("quantity"),
        pl.lit(BND2_BOUGHT * 100).alias("cost_basis"),
        pl.lit(TUESDAY).alias("acquired_date"),
    )
    lots = pl.concat([lots.drop("q"), new_lot])
    positions = lots.group_by("account_id", "security_id", "custodian", "source_file").agg(
        pl.col("quantity").sum(), pl.col("security_id").first().alias("symbol")
    )
    cash = book.cash_balances.with_columns(
        pl.lit(2000 + BOND_SOLD * 80 + 100 * 250 - BND2_BOUGHT * 100 - 60000).alias("cash")
    )
    day = book_on(
        book,
        WEDNESDAY,
        lots=lots,
        positions=positions,
        cash_balances=cash,
        transactions=executed(trades, 100.0),
    )
    return run_day(day, policy, home)


def test_wednesday_clears_what_executed_and_keeps_the_partial_fill_open(wednesday):
    carried, outputs = wednesday
    pending = carried.pending_orders
    assert pending.select(
        "security_id", "released_quantity", "filled_quantity", "open_quantity"
    ).rows() == [("SEC-TMKT", TMKT_SOLD, 100.0, 14.0)]
    assert carried.cash_request_status.select("status", "paid_date").rows() == [("paid", TUESDAY)]
    # custodian cash 20,520 + the 14 unsold TMKT at 250; nothing reserved once paid
    assert carried.book.cash_balances["cash"].item() == pytest.approx(24020.0)
    assert outputs.optimization_results["required_cash"].item() == 0.0
    assert carried.findings.is_empty()
