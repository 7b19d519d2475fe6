"""Review decisions: approve, reject, modify under the compliance rules, and the CSV
round trip."""

from __future__ import annotations

import csv
import datetime as dt

import polars as pl
import pytest

from rebalance_pipeline import tables as t
from rebalance_pipeline.compliance import ComplianceInputs
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.review.queue import (
    REVIEW_DECISIONS,
    REVIEW_FINDINGS,
    ReviewContext,
    ReviewFileError,
    apply_review_decisions,
    pending_queue,
    read_review_decisions,
    write_review_queue,
)
from rebalance_pipeline.review.records import DECISION_RECORDS, review_outcomes
from rebalance_pipeline.routing.route import RELEASED_TRADES, REVIEW_QUEUE

AS_OF = dt.date(2026, 3, 16)
NOTHING_RELEASED = t.empty(RELEASED_TRADES)


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
CLOSES = {"SEC-A": 50.0, "SEC-B": 100.0, "SEC-R": 100.0, "SEC-H": 100.0}
ACQUIRED = dt.date(2025, 1, 2)


def account_rows(account, household, lot_security, quantity, basis, cash):
    """An ok taxable account holding one lot, <account>-L1."""
    return {
        "accounts": [{"account_id": account, "household_id": household, "registration": "taxable"}],
        "account_status": [{"account_id": account, "status": "ok"}],
        "lots": [{"account_id": account, "lot_id": f"{account}-L1", "security_id": lot_security,
                  "quantity": quantity, "cost_basis": basis, "acquired_date": ACQUIRED}],
        "account_positions": [
            {"account_id": account, "security_id": lot_security, "quantity": quantity}
        ],
        "cash_balances": [{"account_id": account, "cash": cash}],
    }  # fmt: skip


def book_rows(*extra_accounts):
    """Every account of ACCOUNTS in its own household H-<id>, holding 100 SEC-A bought at
    $10 (a gain at the close of 50) with $1,000 cash and $2,000 to withdraw on the date;
    RESTRICTED may not buy SEC-R; SEC-H is halted."""
    rows = {name: [] for name in ComplianceInputs.table_names()}
    own = [account_rows(a, f"H-{a}", "SEC-A", 100.0, 1000.0, 1000.0) for a in ACCOUNTS]
    for account in [*own, *extra_accounts]:
        for name, more in account.items():
            rows[name] += more
    rows["cash_requests"] = [
        {"request_id": f"W-{a}", "account_id": a, "amount": 2000.0, "due_date": AS_OF}
        for a in ACCOUNTS
    ]
    rows["securities"] = [{"security_id": s, "round_lot": 1} for s in CLOSES]
    rows["security_prices"] = [{"security_id": s, "close": c} for s, c in CLOSES.items()]
    rows["restrictions"] = [
        {"restriction_id": "R1", "account_id": "RESTRICTED", "security_id": "SEC-R"}
    ]
    rows["halts"] = [{"security_id": "SEC-H", "start_date": AS_OF - dt.timedelta(days=5)}]
    return rows


def frame(rows, schema):
    if not rows:
        return t.empty(schema)
    return t.conform(pl.DataFrame(rows, infer_schema_length=None), schema)


def review_context(*extra_accounts, policy=None):
    """The book's tables, every account routed SCORE for review, on AS_OF."""
    rows = book_rows(*extra_accounts)
    tables = {name: frame(rows[name], getattr(t, name.upper())) for name in rows}
    routes = [
        {"account_id": row["account_id"], "route": "SCORE", "review": "review"}
        for row in rows["accounts"]
    ]
    tables["routing_decisions"] = frame(routes, t.ROUTING_DECISIONS)
    return ReviewContext.from_tables(tables, policy or Policy(), AS_OF)


@pytest.fixture
def queue():
    rows = [row for a in ACCOUNTS for row in proposal(a, BOUGHT.get(a, "SEC-B"))]
    return t.conform(pl.DataFrame(rows), REVIEW_QUEUE)


@pytest.fixture
def context():
    return review_context()


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
    outcome = apply_review_decisions(queue, decisions, NOTHING_RELEASED, context)

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
        ("HALTED", "halted_security"),
        ("OVERSELL", "sell_lot"),
        ("OVERSELL", "short_position"),
        ("RESTRICTED", "restricted_buy"),
        ("SHORTCASH", "negative_cash"),
    ]
    # 1,000 + 10 x 50 - 20 x 100 - 5 bps of 2,500 - 2,000 due
    assert outcome.findings.filter(pl.col("account_id") == "SHORTCASH")["message"].to_list() == [
        "cash 1000.0 + sells 500.0 - buys 2000.0 - estimated costs 1.25 - due withdrawals "
        "2000.0 = -2501.25 < 0 (buy 20.0 SEC-B, sell 10.0 SEC-A lot SHORTCASH-L1)"
    ]
    left = pending_queue(queue, outcome)["account_id"].unique().sort().to_list()
    assert left == ["HALTED", "OVERSELL", "PENDING", "RESTRICTED", "SHORTCASH"]


def test_rejecting_the_funding_sell_breaks_the_cash_rule(queue, context):
    decisions = pl.DataFrame(
        {"account_id": ["APPROVE"] * 2, "security_id": ["SEC-A", "SEC-B"], "side": ["sell", "buy"],
         "lot_id": ["APPROVE-L1", None], "decision": ["reject", "approve"]}
    )  # fmt: skip
    outcome = apply_review_decisions(
        queue, t.conform(decisions, REVIEW_DECISIONS), NOTHING_RELEASED, context
    )
    assert outcome.released.is_empty()
    assert outcome.findings.select("account_id", "check").rows() == [("APPROVE", "negative_cash")]


def test_decision_for_a_trade_not_in_the_queue_is_a_finding(queue, context, tmp_path):
    path = tmp_path / "queue.csv"
    path.write_text(
        "account_id,security_id,side,lot_id,quantity,decision,new_quantity,reviewer,note\n"
        "APPROVE,SEC-Z,buy,,5,approve,,kim,\n"
    )
    outcome = apply_review_decisions(queue, read_review_decisions(path), NOTHING_RELEASED, context)
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
    outcome = apply_review_decisions(queue, read_review_decisions(path), NOTHING_RELEASED, context)
    released = outcome.released.select("side", "quantity", "amount").rows()
    assert released == [("sell", 100.0, 5000.0), ("buy", 7.0, 7.04)]  # 7 x 1.0050 half up


def test_a_cut_sell_realizes_the_gain_of_the_shares_it_sells(context, tmp_path):
    """A lot's gain is per share: selling 90 of the proposed 100 realizes 90% of it."""
    rows = proposal("APPROVE")
    rows[0] |= {"realized_gain": -1500.0}
    queue = t.conform(pl.DataFrame(rows), REVIEW_QUEUE)
    path = tmp_path / "queue.csv"
    path.write_text(
        HEADER + "APPROVE,SEC-A,sell,APPROVE-L1,100,modify,90,kim,\n"
        "APPROVE,SEC-B,buy,,20,approve,,kim,\n"
    )
    outcome = apply_review_decisions(queue, read_review_decisions(path), NOTHING_RELEASED, context)
    sold = outcome.released.filter(pl.col("side") == "sell")
    assert sold.select("quantity", "realized_gain").rows() == [(90.0, -1350.0)]


# SOLD, in APPROVE's household, holds 50 SEC-B bought at $200 a share: selling it at the
# close of 100 is a taxable loss, and a household buy of SEC-B the same day a wash sale.
SOLD = account_rows("SOLD", "H-APPROVE", "SEC-B", 50.0, 10_000.0, 0.0)
SOLD_SALE = {"account_id": "SOLD", "security_id": "SEC-B", "side": "sell", "quantity": 50.0,
             "price": 100.0, "amount": 5000.0, "lot_id": "SOLD-L1", "route": "SCORE",
             "reason": "score_above_threshold", "review": "review"}  # fmt: skip
WASHED = (
    "buy 20.0 SEC-B: buys group SEC-B within 30 days after a taxable loss sale "
    "in household H-APPROVE (SOLD SEC-B on 2026-03-16)"
)


def approved(queue, account):
    chosen = queue.filter(pl.col("account_id") == account)
    return chosen.with_columns(decision=pl.lit("approve")).select(REVIEW_DECISIONS.names())


def test_a_buy_washing_a_loss_sale_the_date_released_is_held(queue):
    released = t.conform(pl.DataFrame([SOLD_SALE]), RELEASED_TRADES)
    outcome = apply_review_decisions(
        queue, approved(queue, "APPROVE"), released, review_context(SOLD)
    )
    assert outcome.released.is_empty()
    # SOLD's sale is washed too, but it has left already: not this review's to count
    assert outcome.findings.select("account_id", "security_id", "check", "message").rows() == [
        ("APPROVE", "SEC-B", "wash_sale", WASHED)
    ]
    # without SOLD's sale the same approval goes out
    alone = apply_review_decisions(
        queue, approved(queue, "APPROVE"), NOTHING_RELEASED, review_context(SOLD)
    )
    assert alone.findings.is_empty() and alone.released.height == 2


def test_an_account_the_date_already_released_is_not_judged_again(queue, context):
    # an earlier session released APPROVE's trades; judged again beside that release,
    # the account would sell its lot twice
    released = queue.filter(pl.col("account_id") == "APPROVE")
    outcome = apply_review_decisions(queue, approved(queue, "APPROVE"), released, context)
    assert outcome.findings.is_empty()
    assert outcome.released.select("account_id", "side", "quantity").rows() == [
        ("APPROVE", "sell", 100.0),
        ("APPROVE", "buy", 20.0),
    ]


def test_no_decision_judges_nothing_whatever_the_date_released(queue):
    # SOLD's released sale and APPROVE's queued buy break the wash-sale rule together,
    # but nothing is decided: no account of this review releases, none is judged
    released = t.conform(pl.DataFrame([SOLD_SALE]), RELEASED_TRADES)
    none = approved(queue, "APPROVE").clear()
    outcome = apply_review_decisions(queue, none, released, review_context(SOLD))
    assert outcome.findings.is_empty() and outcome.findings.schema == REVIEW_FINDINGS
    assert outcome.released.is_empty() and outcome.rejected.is_empty()


def test_sessions_are_judged_in_the_order_recorded(queue):
    """Kim released SOLD's loss sale first; Lee's later approval of APPROVE's buy washes
    it, so APPROVE stays queued, and SOLD stays released as Kim's session released it."""
    queued = pl.concat([queue, t.conform(pl.DataFrame([SOLD_SALE]), REVIEW_QUEUE)])
    sessions = [("SOLD", "kim", "2026-03-16T17:00:00Z"), ("APPROVE", "lee", "2026-03-16T18:00:00Z")]
    records = pl.concat(
        approved(queued, account).with_columns(
            reviewer=pl.lit(reviewer), decided_at=pl.lit(at), batch_id=pl.lit(None, pl.Utf8)
        )
        for account, reviewer, at in sessions
    ).select(DECISION_RECORDS.names())

    reviewed = review_outcomes(queued, records, NOTHING_RELEASED, review_context(SOLD))

    assert reviewed.released.select("account_id", "side", "quantity").rows() == [
        ("SOLD", "sell", 50.0)
    ]
    assert reviewed.outcomes.select("account_id", "reviewer", "decided_at").rows() == [
        ("SOLD", "kim", "2026-03-16T17:00:00Z")
    ]
    assert reviewed.findings.select("account_id", "check", "message").rows() == [
        ("APPROVE", "wash_sale", WASHED)
    ]
