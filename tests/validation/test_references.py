"""References between tables: every row names an account, household, security or sector
that exists, and firm rows that cannot be enforced suspend the accounts they protect."""

from __future__ import annotations

import datetime as dt

import polars as pl
from conftest import AS_OF, BookFactory

from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation import ValidationResult, validate_book


def run(book) -> ValidationResult:
    return validate_book(book, Policy())


def suspended(result: ValidationResult) -> dict[str, list[str]]:
    rows = result.account_status.filter(pl.col("status") == "suspended")
    return dict(zip(rows["account_id"], rows["reason_codes"].to_list(), strict=True))


def findings(result: ValidationResult) -> list[tuple]:
    """(check, severity, source_file, source_row, account_ids) of every finding."""
    cols = ["check", "severity", "source_file", "source_row", "account_ids"]
    return [tuple(row) for row in result.findings.select(cols).iter_rows()]


def restrictions(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(
        [{"restriction_id": f"R{n + 1}"} | row for n, row in enumerate(rows)],
        schema={
            "restriction_id": pl.String,
            "account_id": pl.String,
            "household_id": pl.String,
            "security_id": pl.String,
            "sector": pl.String,
        },
    )


# --------------------------------------------------------------------------------------
# Restrictions
# --------------------------------------------------------------------------------------
def test_restriction_naming_an_unknown_sector_suspends_its_account(make_book: BookFactory):
    book = make_book(restrictions=restrictions({"account_id": "A3", "sector": "Tobaco"}))
    result = run(book)
    assert findings(result) == [
        ("unresolvable_restriction", "error", "firm/restrictions.csv", None, ["A3"])
    ]
    message = result.findings["message"][0]
    assert "R1" in message and "'Tobaco'" in message
    assert suspended(result) == {"A3": ["unresolvable_restriction"]}


def test_household_restriction_naming_an_unknown_security_suspends_the_household(
    make_book: BookFactory,
):
    book = make_book(restrictions=restrictions({"household_id": "H1", "security_id": "SEC-AX"}))
    result = run(book)
    assert findings(result) == [
        ("unresolvable_restriction", "error", "firm/restrictions.csv", None, ["A1", "A2"])
    ]
    assert "SEC-AX" in result.findings["message"][0]
    assert suspended(result) == {
        "A1": ["unresolvable_restriction"],
        "A2": ["unresolvable_restriction"],
    }


def test_two_unresolvable_restrictions_of_one_account_are_both_named(make_book: BookFactory):
    book = make_book(
        restrictions=restrictions(
            {"account_id": "A3", "sector": "Tobaco"},
            {"account_id": "A3", "security_id": "SEC-CX"},
        )
    )
    message = " ".join(run(book).findings["message"])
    assert "R1" in message and "R2" in message


def test_restrictions_that_resolve_give_no_finding(make_book: BookFactory):
    book = make_book(
        restrictions=restrictions(
            {"household_id": "H1", "sector": "Fixed Income"},
            {"account_id": "A3", "security_id": "SEC-A"},  # A3 does not hold it: still fine
        )
    )
    assert run(book).findings.is_empty()


# --------------------------------------------------------------------------------------
# Holds
# --------------------------------------------------------------------------------------
def _dated(key: str, value: str, start: dt.date, end: dt.date | None) -> pl.DataFrame:
    """One hold (key account_id) or halt (key security_id) from start to end."""
    return pl.DataFrame(
        {key: [value], "start_date": [start], "end_date": [end], "reason": ["note"]},
        schema={key: pl.String, "start_date": pl.Date, "end_date": pl.Date, "reason": pl.String},
    )


def _holds(start: dt.date, end: dt.date | None) -> pl.DataFrame:
    return _dated("account_id", "A2", start, end)


def test_hold_ending_before_it_starts_suspends_its_account(make_book: BookFactory):
    result = run(make_book(holds=_holds(AS_OF, AS_OF - dt.timedelta(days=3))))
    assert findings(result) == [("invalid_hold", "error", None, None, ["A2"])]
    assert suspended(result) == {"A2": ["invalid_hold"]}


def test_one_day_and_open_ended_holds_are_valid(make_book: BookFactory):
    assert run(make_book(holds=_holds(AS_OF, AS_OF))).findings.is_empty()
    assert run(make_book(holds=_holds(AS_OF, None))).findings.is_empty()


def _halts(start: dt.date, end: dt.date | None) -> pl.DataFrame:
    return _dated("security_id", "SEC-A", start, end)


def test_halt_ending_before_it_starts_blocks_the_security_and_suspends_its_holders(
    make_book: BookFactory,
):
    """Nobody can tell whether such a halt is in force: the security is traded by no one
    and its holders (who under the default ``skip_account`` mode would not trade) are
    suspended."""
    result = run(make_book(halts=_halts(AS_OF, AS_OF - dt.timedelta(days=1))))
    assert findings(result) == [("invalid_halt", "error", None, None, ["A1", "A2"])]
    assert result.findings["blocks_security"].to_list() == [True]
    assert result.findings["security_id"].to_list() == ["SEC-A"]
    assert suspended(result) == {"A1": ["invalid_halt"], "A2": ["invalid_halt"]}


def test_one_day_and_open_ended_halts_are_valid(make_book: BookFactory):
    assert run(make_book(halts=_halts(AS_OF, AS_OF))).findings.is_empty()
    assert run(make_book(halts=_halts(AS_OF, None))).findings.is_empty()


# --------------------------------------------------------------------------------------
# Accounts not in the master
# --------------------------------------------------------------------------------------
def test_custodian_rows_of_an_account_not_in_the_master_are_a_warning_naming_the_row(
    make_book: BookFactory,
):
    stranger = {"account_id": "Z9", "custodian": "C1", "source_file": "c1/positions.csv"}
    book = make_book(
        positions=lambda pos: pl.concat(
            [pos, pl.DataFrame([stranger | {"security_id": "SEC-A", "quantity": 5.0}])],
            how="diagonal_relaxed",
        ).with_columns(source_row=pl.int_range(2, pl.len() + 2)),
        cash_balances=lambda cash: pl.concat(
            [cash, pl.DataFrame([stranger | {"cash": 10.0, "source_file": "c1/cash.csv"}])],
            how="diagonal_relaxed",
        ).with_columns(source_row=pl.int_range(2, pl.len() + 2)),
    )
    result = run(book)
    unknown = result.findings.filter(pl.col("check") == "unknown_account")
    assert [row for row in findings(result) if row[0] == "unknown_account"] == [
        ("unknown_account", "warning", "c1/cash.csv", 5, []),
        ("unknown_account", "warning", "c1/positions.csv", 6, []),
    ]
    assert all("Z9" in message for message in unknown["message"])
    # its position has no lot, yet no finding about Z9's rows touches or suspends anyone
    assert result.findings.filter(pl.col("severity") == "error").is_empty()
    assert suspended(result) == {}


def test_cash_request_for_an_account_not_in_the_master_is_a_warning(make_book: BookFactory):
    requests = pl.DataFrame(
        {
            "request_id": ["CR1", "CR2", "CR3"],
            "account_id": ["A1", "Z8", "Z9"],
            "amount": [100.0, 200.0, 300.0],
            "priority": ["high", "high", "normal"],
            "due_date": [AS_OF] * 3,
        }
    )
    result = run(make_book(cash_requests=requests))
    assert [row[:2] for row in findings(result)] == [("unknown_account", "warning")]
    message = result.findings["message"][0]
    assert "CR2" in message and "Z8" in message and "CR3" in message and "CR1" not in message
    assert suspended(result) == {}


def test_cash_request_naming_no_account_is_its_contract_finding_only(make_book: BookFactory):
    requests = pl.DataFrame(
        {
            "request_id": ["CR1"],
            "account_id": [None],
            "amount": [100.0],
            "priority": ["high"],
            "due_date": [AS_OF],
        },
        schema_overrides={"account_id": pl.String},
    )
    result = run(make_book(cash_requests=requests))
    assert result.findings["check"].to_list() == ["null_value"]


def test_restriction_of_an_unknown_household_is_a_warning(make_book: BookFactory):
    book = make_book(restrictions=restrictions({"household_id": "H9", "sector": "Broad"}))
    result = run(book)
    assert [row[:2] for row in findings(result)] == [("unknown_account", "warning")]
    assert "H9" in result.findings["message"][0]


# --------------------------------------------------------------------------------------
# An account at two custodians
# --------------------------------------------------------------------------------------
def test_account_listed_by_a_custodian_other_than_its_own_is_suspended(make_book: BookFactory):
    # A3 is at C2 in the master; C1's lots and positions files list it too
    def at_c1(frame: pl.DataFrame, source_file: str) -> pl.DataFrame:
        extra = frame.filter(pl.col("account_id") == "A1").head(1)
        extra = extra.with_columns(
            account_id=pl.lit("A3"), source_file=pl.lit(source_file), source_row=pl.lit(9, pl.Int64)
        )
        if "lot_id" in frame.columns:
            extra = extra.with_columns(lot_id=pl.lit("L9"))
        return pl.concat([frame, extra])

    book = make_book(
        positions=lambda pos: at_c1(pos, "c1/positions.csv"),
        lots=lambda lots: at_c1(lots, "c1/lots.csv"),
    )
    result = run(book)
    assert findings(result) == [
        ("account_at_two_custodians", "error", "c1/lots.csv", 9, ["A3"]),
        ("account_at_two_custodians", "error", "c1/positions.csv", 9, ["A3"]),
    ]
    assert "C2" in result.findings["message"][0] and "C1" in result.findings["message"][0]
    assert suspended(result) == {"A3": ["account_at_two_custodians"]}


# --------------------------------------------------------------------------------------
# Lots
# --------------------------------------------------------------------------------------
def test_lot_with_zero_cost_basis_suspends_its_account(make_book: BookFactory):
    book = make_book(
        lots=lambda lots: lots.with_columns(
            cost_basis=pl.when(pl.col("lot_id") == "L2").then(0.0).otherwise("cost_basis")
        )
    )
    result = run(book)
    assert findings(result) == [("zero_cost_basis", "error", "c1/lots.csv", 3, ["A1"])]
    assert suspended(result) == {"A1": ["zero_cost_basis"]}


# --------------------------------------------------------------------------------------
# Rebalance types
# --------------------------------------------------------------------------------------
def test_unknown_rebalance_type_suspends_only_its_account(make_book: BookFactory):
    book = make_book(
        accounts=lambda accounts: accounts.with_columns(
            rebalance_type=pl.Series(["buy_only", "buy-only", None])
        )
    )
    result = run(book)
    assert [f[:2] + f[4:] for f in findings(result)] == [
        ("unknown_rebalance_type", "error", ["A2"])
    ]
    assert suspended(result) == {"A2": ["unknown_rebalance_type"]}


# --------------------------------------------------------------------------------------
# Through every stage: an unenforceable restriction is never traded against
# --------------------------------------------------------------------------------------
def test_account_with_a_misspelled_restriction_does_not_trade():
    import stage_books as sb

    scenario = sb.book(
        [
            sb.account("A", sb.at_target_lots("A"), cash=200_000.0),
            sb.account("B", sb.at_target_lots("B"), cash=200_000.0),
        ],
        # the client forbade SEC-TMKT, which the model buys; the id was mistyped
        restrictions=[{"account": "A", "security": "SEC-TMKX"}],
    )
    outputs = sb.run(scenario)
    assert sb.decision(outputs, "A")["route"] == "SUSPENDED"
    assert sb.trades_of(outputs, "A").is_empty()
    assert not sb.trades_of(outputs, "B").is_empty()
