"""Each pre-release rule on the small household book (compliance_book.py), by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from compliance_book import AS_OF, BOOK, LOTS, book, broken, lot, trade, violations

from rebalance_pipeline.compliance import rules
from rebalance_pipeline.policy import Policy

DAY = dt.timedelta(days=1)


def policy(**optimization: object) -> Policy:
    base = Policy()
    return base.model_copy(
        update={"optimization": base.optimization.model_copy(update=optimization)}
    )


def test_a_clean_proposal_breaks_nothing() -> None:
    # A1 sells 50 Y at a gain (+500) and buys 100 X (1,000): 1,000 + 1,000 - 1,000 - 1 >= 0
    clean = [trade("A1", "SEC-Y", "sell", 50, "A1-L2"), trade("A1", "SEC-X", "buy", 100)]
    assert violations(clean).is_empty()


@pytest.mark.parametrize(
    ("start", "end", "held"),
    [
        (AS_OF - 5 * DAY, None, True),  # open-ended
        (AS_OF - 5 * DAY, AS_OF, True),  # ends on the date
        (AS_OF, AS_OF + 5 * DAY, True),  # starts on the date
        (AS_OF - 5 * DAY, AS_OF - DAY, False),  # ended yesterday
        (AS_OF + DAY, None, False),  # starts tomorrow
    ],
)
def test_no_trade_for_an_account_on_a_hold_active_on_the_date(start, end, held) -> None:
    hold = {"account_id": "A1", "start_date": start, "end_date": end, "reason": "transfer"}
    found = violations([trade("A1", "SEC-X", "buy", 10)], book(holds=[hold]))
    assert broken(found, rules.ACCOUNT_NOT_TRADABLE) == ([("A1", "SEC-X", None)] if held else [])


def test_no_trade_for_an_account_routed_not_to_trade_or_suspended_or_unknown() -> None:
    status = [
        row | {"status": "suspended"} if row["account_id"] == "A2" else row
        for row in BOOK["account_status"]
    ]
    found = violations(
        [
            trade("A1", "SEC-X", "buy", 10),
            trade("A2", "SEC-X", "buy", 10),
            trade("B1", "SEC-Y", "sell", 1, "B1-L1"),
            trade("C9", "SEC-X", "buy", 10),
        ],
        book(account_status=status),
        routes={"A1": "HALT"},
    )
    messages = dict(
        found.filter(pl.col("rule") == rules.ACCOUNT_NOT_TRADABLE)
        .group_by("account_id")
        .agg(pl.col("message").sort())
        .rows()
    )
    assert messages == {
        "A1": ["buy 10.0 SEC-X: the account is routed HALT"],
        "A2": ["buy 10.0 SEC-X: validation status suspended"],
        "C9": [
            "buy 10.0 SEC-X: the account is not in the account master",
            "buy 10.0 SEC-X: the account is routed nowhere",
            "buy 10.0 SEC-X: validation status missing",
        ],
    }


def test_no_trade_of_a_security_halted_on_the_date_either_side() -> None:
    halts = [
        {"security_id": "SEC-X", "start_date": AS_OF, "end_date": None, "reason": "news"},
        {"security_id": "SEC-Y", "start_date": AS_OF - 9 * DAY, "end_date": AS_OF - DAY},
    ]
    found = violations(
        [
            trade("A1", "SEC-X", "sell", 10, "A1-L1"),
            trade("A2", "SEC-Z", "buy", 10),
            trade("B1", "SEC-Y", "sell", 10, "B1-L1"),
        ],
        book(halts=halts),
    )
    assert broken(found, rules.HALTED_SECURITY) == [("A1", "SEC-X", "A1-L1")]
    (message,) = found.filter(pl.col("rule") == rules.HALTED_SECURITY)["message"]
    assert (
        message == "sell 10.0 SEC-X lot A1-L1: the security is halted 2026-03-16..open-ended (news)"
    )


def test_no_buy_restricted_for_the_account_or_its_household_by_security_or_sector() -> None:
    restrictions = [
        {"restriction_id": "R-TOBACCO", "household_id": "H1", "sector": "Tobacco"},
        {"restriction_id": "R-X", "account_id": "B1", "security_id": "SEC-X"},
    ]
    found = violations(
        [
            trade("A2", "SEC-Y", "buy", 5),  # household H1's sector restriction
            trade("A1", "SEC-Y", "sell", 5, "A1-L2"),  # sells are what restrictions ask for
            trade("B1", "SEC-Y", "buy", 5),  # H2 is not restricted from tobacco
            trade("B1", "SEC-X", "buy", 5),  # B1's own restriction
            trade("A1", "SEC-X", "buy", 5),  # ... which is not A1's
        ],
        book(restrictions=restrictions, cash_balances=[{"account_id": "B1", "cash": 1e6}]),
    )
    assert broken(found, rules.RESTRICTED_BUY) == [("A2", "SEC-Y", None), ("B1", "SEC-X", None)]


def test_no_trade_the_account_s_rebalance_type_forbids() -> None:
    types = {"A1": "harvest_only", "A2": "raise_cash", "B1": "buy_only"}
    accounts = [row | {"rebalance_type": types[row["account_id"]]} for row in BOOK["accounts"]]
    found = violations(
        [
            trade("A1", "SEC-X", "sell", 100, "A1-L1"),  # a loss (15/share, close 10): harvest
            trade("A1", "SEC-Y", "sell", 10, "A1-L2"),  # a gain (10/share, close 20)
            trade("A2", "SEC-X", "sell", 10, "A2-L1"),  # raise_cash sells
            trade("A2", "SEC-Y", "buy", 5),  # ... but never buys
            trade("B1", "SEC-Y", "sell", 10, "B1-L1"),  # buy_only never sells
        ],
        book(accounts=accounts),
    )
    assert found.filter(pl.col("rule") == rules.REBALANCE_TYPE)["message"].to_list() == [
        "sell 10.0 SEC-Y lot A1-L2: harvest_only sells only lots at a loss",
        "buy 5.0 SEC-Y: raise_cash never buys",
        "sell 10.0 SEC-Y lot B1-L1: buy_only never sells",
    ]


def test_sells_name_a_lot_of_the_account_in_the_security_within_its_quantity() -> None:
    found = violations(
        [
            trade("A1", "SEC-X", "sell", 120, "A1-L1"),
            trade("A1", "SEC-X", "sell", 100, "A1-L1"),  # 220 of a 200-share lot
            trade("A1", "SEC-Y", "sell", 10, "A1-L1"),  # A1-L1 holds X
            trade("A2", "SEC-X", "sell", 10, "A1-L1"),  # A1's lot
            trade("B1", "SEC-Y", "sell", 10),  # names no lot
        ]
    )
    assert found.filter(pl.col("rule") == rules.SELL_LOT)["message"].to_list() == [
        "sells 220.0 of lot A1-L1 (SEC-X) holding 200.0",
        "sell 10.0 SEC-Y lot A1-L1: lot A1-L1 holds SEC-X",
        "sell 10.0 SEC-X lot A1-L1: lot A1-L1 is not a lot of the account",
        "sell 10.0 SEC-Y: the sell names no lot",
    ]


def test_a_lot_listed_twice_is_read_from_its_first_row() -> None:
    # the lots the trades name are picked out of the book's lots: the first row of a
    # repeated lot still decides, and another account's lot of that id stays apart
    lots = [
        *LOTS,
        lot("A1", "A1-L1", "SEC-X", 20.0, 300.0, dt.date(2025, 1, 2)),
        lot("B1", "A1-L1", "SEC-X", 500.0, 300.0, dt.date(2025, 1, 2)),
    ]
    found = violations(
        [trade("A1", "SEC-X", "sell", 150, "A1-L1"), trade("A2", "SEC-X", "sell", 10, "A1-L1")],
        book(lots=lots),
    )
    assert found.filter(pl.col("rule") == rules.SELL_LOT)["message"].to_list() == [
        "sell 10.0 SEC-X lot A1-L1: lot A1-L1 is not a lot of the account"
    ]


def test_no_position_ends_short_per_account_and_security() -> None:
    # A1's positions file shows 150 X although the lot holds 200: the position decides
    positions = [
        {"account_id": "A1", "security_id": "SEC-X", "quantity": 150.0},
        {"account_id": "B1", "security_id": "SEC-Y", "quantity": 100.0},
    ]
    found = violations(
        [
            trade("A1", "SEC-X", "sell", 180, "A1-L1"),  # 150 - 180 = -30
            trade("A1", "SEC-X", "buy", 20),  # ... + 20 = -10
            trade("B1", "SEC-Y", "sell", 100, "B1-L1"),  # closes B1's position: 0 is fine
        ],
        book(account_positions=positions),
    )
    assert found.filter(pl.col("rule") == rules.SHORT_POSITION).select(
        "account_id", "security_id", "message"
    ).rows() == [
        ("A1", "SEC-X", "SEC-X: holds 150.0, trades -160.0 net, short -10.0 after the trades")
    ]


@pytest.mark.parametrize(
    ("cash", "short"),
    [(1000.495, False), (1000.48, True)],  # 100 X = 1,000 + 0.50 costs at 5 bps
)
def test_cash_covers_the_buys_and_costs_to_a_cent(cash: float, short: bool) -> None:
    found = violations(
        [trade("A1", "SEC-X", "buy", 100)], book(cash_balances=[{"account_id": "A1", "cash": cash}])
    )
    assert broken(found, rules.NEGATIVE_CASH) == ([("A1", None, None)] if short else [])


def test_cash_counts_due_withdrawals_and_values_trades_at_the_close() -> None:
    requests = [
        {"request_id": "W1", "account_id": "A1", "amount": 600.0, "due_date": AS_OF},
        {"request_id": "W2", "account_id": "A1", "amount": 5000.0, "due_date": AS_OF + DAY},
    ]
    # sell 25 Y at the close of 20 (the trade says 1.00): 1,000 + 500 - 0.25 - 600 = 899.75;
    # buy 90 X: - 900 - 0.45 = -0.70
    trades = [trade("A1", "SEC-Y", "sell", 25, "A1-L2"), trade("A1", "SEC-X", "buy", 90)]
    found = violations(trades, book(cash_requests=requests))
    assert found.filter(pl.col("rule") == rules.NEGATIVE_CASH)["message"].to_list() == [
        "cash 1000.0 + sells 500.0 - buys 900.0 - estimated costs 0.7 "
        "- due withdrawals 600.0 = -0.7 < 0 (buy 90.0 SEC-X, sell 25.0 SEC-Y lot A1-L2)"
    ]
    assert violations(trades[:1], book(cash_requests=requests)).is_empty()


def window(blocks: str, source: str, security: str, start: dt.date) -> dict[str, object]:
    """An H1 wash-sale window of group GX from the feature table."""
    return {
        "household_id": "H1",
        "identical_group": "GX",
        "blocks": blocks,
        "window_start": start,
        "window_end": start + 30 * DAY,
        "source_account_id": source,
        "source_security_id": security,
        "source_transaction_id": f"T-{source}",
    }


def test_no_household_buy_after_a_taxable_loss_sale_in_the_history() -> None:
    windows = [window("buy", "A1", "SEC-X", AS_OF - 10 * DAY)]
    found = violations(
        [trade("A2", "SEC-Z", "buy", 10), trade("B1", "SEC-X", "buy", 10)],
        book(wash_sale_windows=windows, cash_balances=[{"account_id": "B1", "cash": 1e6}]),
    )
    assert found.filter(pl.col("rule") == rules.WASH_SALE).select(
        "account_id", "message"
    ).rows() == [
        (
            "A2",
            "buy 10.0 SEC-Z: buys group GX within 30 days after a taxable loss sale "
            "in household H1 (A1 SEC-X on 2026-03-06)",
        )
    ]


def test_a_loss_sale_and_a_buy_of_the_group_the_same_day_in_a_household_break_both_ways() -> None:
    # A1 sells X at 10 from a lot bought at 15 (taxable: a loss); A2 (IRA) buys Z, same group
    found = violations(
        [trade("A1", "SEC-X", "sell", 100, "A1-L1"), trade("A2", "SEC-Z", "buy", 10)]
    )
    assert broken(found, rules.WASH_SALE) == [("A1", "SEC-X", "A1-L1"), ("A2", "SEC-Z", None)]
    # a sale at a gain (A1-L2, Y) or a loss in the IRA opens nothing
    assert violations(
        [trade("A1", "SEC-Y", "sell", 10, "A1-L2"), trade("A2", "SEC-Y", "buy", 10)]
    ).is_empty()


def test_a_taxable_loss_sale_after_a_household_buy_except_of_the_lot_that_buy_acquired() -> None:
    bought = AS_OF - 14 * DAY
    lots = [*LOTS, lot("A1", "A1-L3", "SEC-X", 100.0, 1500.0, bought)]  # at a loss
    windows = [window("loss_sale", "A1", "SEC-X", bought)]
    inputs = book(lots=lots, wash_sale_windows=windows)
    assert violations([trade("A1", "SEC-X", "sell", 100, "A1-L3")], inputs).is_empty()
    found = violations([trade("A1", "SEC-X", "sell", 100, "A1-L1")], inputs)
    assert broken(found, rules.WASH_SALE) == [("A1", "SEC-X", "A1-L1")]
    # the same purchase by A2 washes A1's loss sale of the lot too
    windows = [window("loss_sale", "A2", "SEC-X", bought)]
    found = violations(
        [trade("A1", "SEC-X", "sell", 100, "A1-L3")], book(lots=lots, wash_sale_windows=windows)
    )
    assert broken(found, rules.WASH_SALE) == [("A1", "SEC-X", "A1-L3")]


def test_round_lots_per_order_unless_the_sale_closes_the_position() -> None:
    lots = [*LOTS, lot("A1", "A1-L4", "SEC-X", 50.0, 500.0, AS_OF - 90 * DAY)]
    positions = [{"account_id": "A1", "security_id": "SEC-X", "quantity": 250.0}]
    inputs = book(
        lots=lots, account_positions=positions, cash_balances=[{"account_id": "B1", "cash": 1e6}]
    )
    closing = [
        trade("A1", "SEC-X", "sell", 200, "A1-L1"),
        trade("A1", "SEC-X", "sell", 50, "A1-L4"),
    ]
    split_buy = [trade("B1", "SEC-Z", "buy", 50), trade("B1", "SEC-Z", "buy", 50)]
    odd = [trade("A1", "SEC-X", "sell", 150, "A1-L1"), trade("B1", "SEC-X", "buy", 150)]
    on = policy(round_lots=True)
    assert violations(closing + split_buy, inputs, on).is_empty()
    found = violations(odd, inputs, on)
    assert found.filter(pl.col("rule") == rules.ROUND_LOT)["message"].to_list() == [
        "sell 150.0 SEC-X: not a multiple of the round lot 100",
        "buy 150.0 SEC-X: not a multiple of the round lot 100",
    ]
    assert (
        violations(odd, inputs, policy(round_lots=False))
        .filter(pl.col("rule") == rules.ROUND_LOT)
        .is_empty()
    )


def test_minimum_order_size_per_order_except_sells_of_restricted_securities() -> None:
    restrictions = [{"restriction_id": "R-Y", "account_id": "A1", "security_id": "SEC-Y"}]
    inputs = book(restrictions=restrictions)
    trades = [
        trade("A1", "SEC-X", "sell", 30, "A1-L1"),  # 300 ...
        trade("A1", "SEC-X", "sell", 30, "A1-L1"),  # ... + 300 = one order of 600
        trade("A1", "SEC-Y", "sell", 10, "A1-L2"),  # 200, restricted: sold however small
        trade("B1", "SEC-Y", "sell", 10, "B1-L1"),  # 200
        trade("A2", "SEC-Z", "buy", 40),  # 400
    ]
    found = violations(trades, inputs, policy(min_trade_usd=500.0))
    assert broken(found, rules.MIN_TRADE_SIZE) == [("A2", "SEC-Z", None), ("B1", "SEC-Y", None)]
    assert found.filter(pl.col("account_id") == "B1")["message"].to_list() == [
        "sell 10.0 SEC-Y: worth 200.0 at the close, under the minimum order of 500.0"
    ]


def test_a_trade_no_rule_can_judge_is_invalid() -> None:
    found = violations(
        [
            trade("A1", "SEC-X", "short", 10),
            trade("A1", "SEC-X", "buy", 0),
            trade("A1", "SEC-NEW", "buy", 1),
            trade("A2", "SEC-X", "buy", float("nan")),
        ],
        book(security_prices=[{"security_id": "SEC-Y", "close": 20.0}]),
    )
    assert found.filter(pl.col("rule") == rules.INVALID_TRADE)["message"].to_list() == [
        "buy 1.0 SEC-NEW: the security is not in the security master",
        "buy 0.0 SEC-X: no close on the date, the trade cannot be valued",
        "buy 0.0 SEC-X: the quantity must be a positive number",
        "short 10.0 SEC-X: no close on the date, the trade cannot be valued",
        "short 10.0 SEC-X: the side must be buy or sell",
        "buy NaN SEC-X: no close on the date, the trade cannot be valued",
        "buy NaN SEC-X: the quantity must be a positive number",
    ]


def test_lots_of_the_book_are_what_the_sell_rules_read() -> None:
    # every lot of the book can be sold in full, alone, without a violation of its own
    for row in LOTS:
        sale = trade(row["account_id"], row["security_id"], "sell", row["quantity"], row["lot_id"])
        found = violations([sale])
        assert broken(found, rules.SELL_LOT) == [] and broken(found, rules.SHORT_POSITION) == []
