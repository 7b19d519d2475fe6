"""Pending orders and cash requests over a week, by hand (no optimizer)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.continuity import Ledger, continue_book
from rebalance_pipeline.continuity.cash_requests import CANCELLATIONS, requests_raised_by
from rebalance_pipeline.continuity.ledger import LEDGER_TRADES, RAISED_REQUESTS
from rebalance_pipeline.continuity.pending import pending_orders
from rebalance_pipeline.policy import Policy

MON_9, TUE_10, MON_16, TUE_17, WED_18, THU_19 = (
    dt.date(2026, 3, d) for d in (9, 10, 16, 17, 18, 19)
)
SOURCE = {"custodian": "alder", "source_file": "f.csv", "source_row": 1}


def order(day, batch, account, side, quantity, lot=None, security="S1"):
    return {
        "release_date": day,
        "batch_id": batch,
        "account_id": account,
        "security_id": security,
        "side": side,
        "lot_id": lot,
        "quantity": quantity,
        "price": 10.0,
    }


def execution(day, account, side, quantity, security="S1", type_=None, amount=None):
    return {
        "transaction_id": f"{account}-{day}-{side}-{quantity}",
        "account_id": account,
        "trade_date": day,
        "type": type_ or side,
        "security_id": security,
        "quantity": quantity,
        "amount": amount,
        **SOURCE,
    }


ORDERS = t.conform(
    pl.DataFrame(
        [
            order(MON_16, "b1", "A1", "sell", 100.0, "L1"),
            order(TUE_17, "b2", "A1", "sell", 50.0, "L2"),
            order(MON_9, "b0", "A2", "buy", 7.0),
        ]
    ),
    LEDGER_TRADES,
)
EXECUTIONS = t.conform(
    pl.DataFrame(
        [
            # fills b1 (100); the 20 left over cannot fill b2, released that same day
            execution(TUE_17, "A1", "sell", 120.0),
            execution(WED_18, "A1", "sell", 30.0),  # 30 of b2's 50
            execution(WED_18, "A1", "buy", 50.0),  # another side: matches nothing
        ]
    ),
    t.TRANSACTIONS,
)


def test_fills_go_to_the_oldest_order_released_before_them_and_unfilled_ones_expire():
    pending = pending_orders(
        ORDERS, EXECUTIONS, THU_19, expiry_business_days=5, tolerance=1e-6, window_business_days=60
    )
    assert pending.select(
        "batch_id", "account_id", "released_quantity", "filled_quantity", "open_quantity", "status"
    ).rows() == [
        ("b2", "A1", 50.0, 30.0, 20.0, "open"),
        # released 8 business days before Thursday 19th: past the 5-day expiry
        ("b0", "A2", 7.0, 0.0, 7.0, "expired"),
    ]
    # beyond the transactions' window an order is no longer tracked
    older = pending_orders(
        ORDERS, EXECUTIONS, THU_19, expiry_business_days=5, tolerance=1e-6, window_business_days=7
    )
    assert older["batch_id"].to_list() == ["b2"]


def request(request_id, amount, due):
    return {
        "request_id": request_id,
        "account_id": "A1",
        "amount": amount,
        "priority": "high",
        "due_date": due,
    }


def raise_(day, batch, request_id, amount):
    return {
        "release_date": day,
        "batch_id": batch,
        "request_id": request_id,
        "account_id": "A1",
        "amount": amount,
    }


def test_cash_requests_move_from_requested_to_raised_paid_or_cancelled():
    book = Book.from_frames(
        THU_19,
        accounts=pl.DataFrame({"account_id": ["A1", "A2"], "custodian": ["alder", "alder"]}),
        cash_requests=pl.DataFrame(
            [
                request("R1", 1000.0, TUE_10),  # raised on the 10th, never paid: overdue
                request("R2", 500.0, MON_16),  # raised on the 16th, paid on the 17th
                request("R3", 200.0, THU_19),  # cancelled on the 18th
                request("R4", 300.0, THU_19),  # not raised yet: still a mandate
            ]
        ),
        cash_balances=pl.DataFrame(
            {"account_id": ["A1"], "cash": [5000.0], **{k: [v] for k, v in SOURCE.items()}}
        ),
        transactions=pl.DataFrame([execution(TUE_17, "A1", "x", None, None, "withdrawal", -500.0)]),
    )
    ledger = Ledger(
        trades=ORDERS.filter(pl.col("account_id") == "A2"),
        raised_requests=t.conform(
            pl.DataFrame([raise_(TUE_10, "b9", "R1", 1000.0), raise_(MON_16, "b1", "R2", 500.0)]),
            RAISED_REQUESTS,
        ),
    )
    cancellations = t.conform(
        pl.DataFrame({"request_id": ["R3"], "cancelled_date": [WED_18]}), CANCELLATIONS
    )
    carried = continue_book(book, ledger, Policy(), cancellations)
    assert carried.cash_request_status.select("request_id", "status", "paid_date").rows() == [
        ("R1", "raised", None),
        ("R2", "paid", TUE_17),
        ("R3", "cancelled", None),
        ("R4", "requested", None),
    ]
    assert carried.book.cash_requests["request_id"].to_list() == ["R4"]
    # R1's 1,000 stays reserved until the withdrawal shows up
    assert carried.book.cash_balances["cash"].to_list() == [4000.0]
    # the ledger's release is A2's last firm trade; A1 never traded through the firm
    assert dict(carried.book.accounts.select("account_id", "last_firm_trade_date").rows()) == {
        "A1": None,
        "A2": MON_9,
    }
    findings = carried.findings.select("check", "severity", "account_ids").rows()
    assert findings == [
        ("cash_request_overdue", "warning", ["A1"]),
        ("pending_order_expired", "warning", ["A2"]),
    ]
    # the expired buy of A2 is not netted in: no pending lot, no cash moved
    assert carried.book.lots.is_empty()


def test_a_due_withdrawal_the_cash_already_covers_is_raised_without_trades():
    requests = t.conform(
        pl.DataFrame(
            {
                "request_id": ["R1", "R2", "R3"],
                "account_id": ["A", "B", "C"],
                "amount": [5000.0, 5000.0, 5000.0],
                "priority": ["high", "high", "high"],
                "due_date": [MON_16, MON_16, MON_16],
            }
        ),
        t.CASH_REQUESTS,
    )
    decisions = t.conform(
        pl.DataFrame(
            {
                "account_id": ["A", "B", "C"],
                "route": ["NO_TRADE", "SUSPENDED", "HOLD"],
                "reasons": [["score_below_threshold", "cash_request_high"], ["bad_data"], []],
            }
        ),
        t.ROUTING_DECISIONS,
    )
    no_trades = t.empty(t.PROPOSED_TRADES)
    raised = requests_raised_by(requests, decisions, no_trades, MON_16)
    assert raised["request_id"].to_list() == ["R1"]
