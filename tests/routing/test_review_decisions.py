"""Review decisions: approve, reject, modify with a re-check, and the CSV round trip."""

from __future__ import annotations

import csv

import polars as pl
import pytest

from rebalance_pipeline import tables as t
from rebalance_pipeline.routing.review import (
    REVIEW_DECISIONS,
    ReviewContext,
    ReviewFileError,
    apply_review_decisions,
    pending_queue,
    read_review_decisions,
    write_review_queue,
)
from rebalance_pipeline.routing.route import REVIEW_QUEUE


def proposal(account_id, bought="SEC-B"):
    """Sell 100 of lot <id>-L1 at $50 and buy 20 of ``bought`` at $100."""
    return [
        {"account_id": account_id, "security_id": "SEC-A", "side": "sell", "quantity": 100.0,
         "price": 50.0, "amount": 5000.0, "lot_id": f"{account_id}-L1", "route": "SCORE",
         "reason": "score_above_threshold", "review": "review"},
        {"account_id": account_id, "security_id": bought, "side": "buy", "quantity": 20.0,
         "price": 100.0, "amount": 2000.0, "lot_id": None, "route": "SCORE",
         "reason": "score_above_threshold", "review": "review"},
    ]  # fmt: skip


ACCOUNTS = [
    "APPROVE",
    "REJECT",
    "OVERSELL",
    "SHORTCASH",
    "RESTRICTED",
    "HALTED",
    "PENDING",
    "SMALLER",
]
BOUGHT = {"RESTRICTED": "SEC-R", "HALTED": "SEC-H"}


@pytest.fixture
def queue():
    rows = [row for a in ACCOUNTS for row in proposal(a, BOUGHT.get(a, "SEC-B"))]
    return t.conform(pl.DataFrame(rows), REVIEW_QUEUE)


@pytest.fixture
def context():
    # every account holds 100 in its lot, has $1,000 cash and must raise $2,000
    n = len(ACCOUNTS)
    lots = pl.DataFrame(
        {"account_id": ACCOUNTS, "lot_id": [f"{a}-L1" for a in ACCOUNTS], "quantity": [100.0] * n}
    )
    results = pl.DataFrame(
        {"account_id": ACCOUNTS, "cash_before": [1000.0] * n, "required_cash": [2000.0] * n}
    )
    restricted = pl.DataFrame({"account_id": ["RESTRICTED"], "security_id": ["SEC-R"]})
    return ReviewContext.from_tables(
        t.conform(lots, t.TAX_LOTS),
        t.conform(results, t.OPTIMIZATION_RESULTS),
        t.conform(restricted, t.RESTRICTED_SECURITIES),
        t.conform(pl.DataFrame({"security_id": ["SEC-H"]}), t.ACTIVE_HALTS),
    )  # fmt: skip


EDITS = {
    # (account, side): (decision, new quantity)
    ("APPROVE", "sell"): ("approve", ""),
    ("APPROVE", "buy"): ("approve", ""),
    ("REJECT", "sell"): ("reject", ""),
    ("REJECT", "buy"): ("reject", ""),
    ("OVERSELL", "sell"): ("modify", "150"),
    ("OVERSELL", "buy"): ("approve", ""),
    ("SHORTCASH", "sell"): ("modify", "10"),  # 1,000 + 500 - 2,000 < 2,000 to raise
    ("SHORTCASH", "buy"): ("approve", ""),
    ("RESTRICTED", "sell"): ("approve", ""),
    ("RESTRICTED", "buy"): ("modify", "5"),
    ("HALTED", "sell"): ("approve", ""),
    ("HALTED", "buy"): ("approve", ""),
    ("PENDING", "sell"): ("approve", ""),
    ("SMALLER", "sell"): ("approve", ""),
    ("SMALLER", "buy"): ("modify", "10"),
}


def review(queue, path):
    """Write the queue, fill the decisions as a reviewer would, read them back."""
    write_review_queue(queue, path)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        decision, new_quantity = EDITS.get((row["account_id"], row["side"]), ("", ""))
        row.update(decision=decision, new_quantity=new_quantity, reviewer="kim", note="ok")
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return read_review_decisions(path)


def test_decisions_release_reject_and_hold_back(queue, context, tmp_path):
    decisions = review(queue, tmp_path / "queue.csv")
    outcome = apply_review_decisions(queue, decisions, context)

    released = outcome.released.select("account_id", "side", "quantity", "amount").rows()
    assert released == [
        ("APPROVE", "sell", 100.0, 5000.0),
        ("APPROVE", "buy", 20.0, 2000.0),
        ("SMALLER", "sell", 100.0, 5000.0),
        ("SMALLER", "buy", 10.0, 1000.0),
    ]
    assert outcome.released["reviewer"].unique().to_list() == ["kim"]
    assert outcome.rejected.select("account_id", "side", "quantity").rows() == [
        ("REJECT", "sell", 100.0),
        ("REJECT", "buy", 20.0),
    ]
    assert outcome.findings.select("account_id", "check").rows() == [
        ("HALTED", "halted_buy"),
        ("OVERSELL", "sell_exceeds_lot"),
        ("RESTRICTED", "restricted_buy"),
        ("SHORTCASH", "cash_short"),
    ]
    left = pending_queue(queue, outcome)["account_id"].unique().sort().to_list()
    assert left == ["HALTED", "OVERSELL", "PENDING", "RESTRICTED", "SHORTCASH"]


def test_rejecting_the_funding_sell_fails_the_cash_recheck(queue, context):
    decisions = pl.DataFrame(
        {"account_id": ["APPROVE"] * 2, "security_id": ["SEC-A", "SEC-B"], "side": ["sell", "buy"],
         "lot_id": ["APPROVE-L1", None], "decision": ["reject", "approve"]}
    )  # fmt: skip
    outcome = apply_review_decisions(queue, t.conform(decisions, REVIEW_DECISIONS), context)
    assert outcome.released.is_empty()
    assert outcome.findings.select("account_id", "check").rows() == [("APPROVE", "cash_short")]


def test_decision_for_a_trade_not_in_the_queue_is_a_finding(queue, context, tmp_path):
    path = tmp_path / "queue.csv"
    path.write_text(
        "account_id,security_id,side,lot_id,quantity,decision,new_quantity,reviewer,note\n"
        "APPROVE,SEC-Z,buy,,5,approve,,kim,\n"
    )
    outcome = apply_review_decisions(queue, read_review_decisions(path), context)
    assert outcome.findings.select("account_id", "check").rows() == [("APPROVE", "unknown_trade")]


HEADER = "account_id,security_id,side,lot_id,quantity,decision,new_quantity,reviewer,note\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("A,S,buy,,10,maybe,,kim,\n", "line 2, column decision"),
        ("A,S,buy,,10,modify,,kim,\n", "line 2, column new_quantity: required"),
        ("A,S,buy,,10,approve,,kim,\nA,S,sell,L,ten,approve,,kim,\n", "line 3, column quantity"),
        ("A,S,buy,,10,modify,-5,kim,\n", "line 2, column new_quantity: must be"),
        ("A,S,buy,,10,modify,inf,kim,\n", "line 2, column new_quantity: must be a finite"),
        ("A,S,buy,,10,modify,2.0000001,kim,\n", "column new_quantity: .*more than 6 decimal"),
        (",S,buy,,10,approve,,kim,\n", "line 2, column account_id: empty"),
    ],
)
def test_malformed_decision_file_names_row_and_column(tmp_path, body, message):
    path = tmp_path / "queue.csv"
    path.write_text(HEADER + body)
    with pytest.raises(ReviewFileError, match=message):
        read_review_decisions(path)


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "queue.csv"
    path.write_text("account_id,security_id,side,lot_id,quantity,reviewer,note\n")
    with pytest.raises(ReviewFileError, match=r"missing columns \['decision', 'new_quantity'\]"):
        read_review_decisions(path)


def test_queue_file_neutralises_formula_text_and_reads_it_back(tmp_path):
    rows = proposal("=HYPERLINK(1)")
    queue = t.conform(pl.DataFrame(rows), REVIEW_QUEUE)
    path = tmp_path / "queue.csv"
    write_review_queue(queue, path)
    assert "\n'=HYPERLINK(1)," in path.read_text()
    assert read_review_decisions(path)["account_id"].unique().to_list() == ["=HYPERLINK(1)"]


def test_queue_file_writes_prices_to_four_places_and_quantities_exactly(tmp_path):
    rows = proposal("A")
    rows[1] |= {"quantity": 0.1 + 0.2, "price": 1.005}
    path = tmp_path / "queue.csv"
    write_review_queue(t.conform(pl.DataFrame(rows), REVIEW_QUEUE), path)
    lines = path.read_text().splitlines()
    assert lines[1] == "A,SEC-A,sell,A-L1,100,50.0000,SCORE,score_above_threshold,,,,"
    assert lines[2] == "A,SEC-B,buy,,0.3,1.0050,SCORE,score_above_threshold,,,,"


def test_a_modified_trade_is_released_at_the_quantity_times_the_written_price(context, tmp_path):
    rows = proposal("APPROVE")
    rows[1] |= {"price": 1.005, "amount": 20 * 1.005}
    queue = t.conform(pl.DataFrame(rows), REVIEW_QUEUE)
    path = tmp_path / "queue.csv"
    path.write_text(
        HEADER + "APPROVE,SEC-A,sell,APPROVE-L1,100,approve,,kim,\n"
        "APPROVE,SEC-B,buy,,20,modify,7,kim,\n"
    )
    outcome = apply_review_decisions(queue, read_review_decisions(path), context)
    released = outcome.released.select("side", "quantity", "amount").rows()
    assert released == [("sell", 100.0, 5000.0), ("buy", 7.0, 7.04)]  # 7 x 1.0050 half up
