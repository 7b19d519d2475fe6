"""One fault per book: exactly the expected finding, exactly the expected accounts suspended."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import AS_OF, BookFactory

from rebalance_pipeline import tables as t
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation import ValidationResult, validate_book


def run(book) -> ValidationResult:
    return validate_book(book, Policy())


def suspended(result: ValidationResult) -> dict[str, list[str]]:
    rows = result.account_status.filter(pl.col("status") == "suspended")
    return dict(zip(rows["account_id"], rows["reason_codes"].to_list(), strict=True))


def only_finding(result: ValidationResult) -> dict:
    assert result.findings.height == 1, result.findings
    return result.findings.row(0, named=True)


def test_healthy_book_has_no_findings_and_every_account_ok(make_book: BookFactory) -> None:
    result = run(make_book())
    assert result.findings.is_empty()
    assert result.findings.schema == t.FINDINGS
    assert result.account_status.schema == t.ACCOUNT_STATUS
    assert result.account_status["account_id"].to_list() == ["A1", "A2", "A3"]
    assert result.account_status["status"].to_list() == ["ok", "ok", "ok"]
    assert result.manual_queue.is_empty()


def test_unknown_security_suspends_its_account_only_not_the_household_sibling(
    make_book: BookFactory,
) -> None:
    extra = pl.DataFrame(
        {
            "account_id": ["A1"],
            "lot_id": ["L9"],
            "security_id": [None],
            "symbol": ["ZZZ"],
            "quantity": [5.0],
            "cost_basis": [50.0],
            "acquired_date": [dt.date(2024, 4, 4)],
            "custodian": ["C1"],
            "source_file": ["c1/lots.csv"],
            "source_row": [5],
        },
    )
    # A1 has positions: give the unknown holding a position too, so only it is at fault
    position = pl.DataFrame(
        {
            "account_id": ["A1"],
            "security_id": [None],
            "symbol": ["ZZZ"],
            "quantity": [5.0],
            "custodian": ["C1"],
            "source_file": ["c1/positions.csv"],
            "source_row": [5],
        }
    )
    book = make_book(
        lots=lambda lots: pl.concat([lots, extra], how="diagonal_relaxed"),
        positions=lambda pos: pl.concat([pos, position], how="diagonal_relaxed"),
    )
    result = run(book)
    assert result.findings["check"].to_list() == ["unknown_security", "unknown_security"]
    assert result.findings["source_file"].to_list() == ["c1/lots.csv", "c1/positions.csv"]
    assert suspended(result) == {"A1": ["unknown_security"]}


def test_security_id_not_in_master_is_unknown_security(make_book: BookFactory) -> None:
    # lots only for A3 (positions absent for the account) -> positions = lots
    book = make_book(
        lots=lambda lots: lots.with_columns(
            security_id=pl.when(pl.col("lot_id") == "L4")
            .then(pl.lit("SEC-UNKN"))
            .otherwise("security_id")
        ),
        positions=lambda pos: pos.filter(pl.col("account_id") != "A3"),
    )
    finding = only_finding(run(book))
    assert (finding["check"], finding["security_id"], finding["account_ids"]) == (
        "unknown_security",
        "SEC-UNKN",
        ["A3"],
    )


def test_old_symbol_of_recent_symbol_change_is_symbol_change_not_applied(
    make_book: BookFactory,
) -> None:
    change = pl.DataFrame(
        {
            "security_id": ["SEC-C"],
            "symbol": ["OLDC"],
            "action": ["symbol_change"],
            "effective_date": [AS_OF - dt.timedelta(days=3)],
            "new_symbol": ["CCC"],
            "custodian": ["C2"],
        }
    )
    book = make_book(
        lots=lambda lots: lots.with_columns(
            security_id=pl.when(pl.col("lot_id") == "L4").then(None).otherwise("security_id"),
            symbol=pl.when(pl.col("lot_id") == "L4").then(pl.lit("OLDC")).otherwise("symbol"),
        ),
        positions=lambda pos: pos.filter(pl.col("account_id") != "A3"),
        corporate_actions=change,
    )
    finding = only_finding(run(book))
    assert finding["check"] == "symbol_change_not_applied"
    assert finding["account_ids"] == ["A3"]


def test_null_price_suspends_holders_only(make_book: BookFactory) -> None:
    book = make_book(
        prices=lambda p: p.with_columns(
            close=pl.when(pl.col("security_id") == "SEC-A").then(None).otherwise("close")
        )
    )
    result = run(book)
    finding = only_finding(result)
    assert (finding["check"], finding["security_id"], finding["account_ids"]) == (
        "missing_price",
        "SEC-A",
        ["A1", "A2"],
    )
    assert suspended(result) == {"A1": ["missing_price"], "A2": ["missing_price"]}


def test_price_row_absent_is_missing_price(make_book: BookFactory) -> None:
    book = make_book(prices=lambda p: p.filter(pl.col("security_id") != "SEC-C"))
    assert suspended(run(book)) == {"A3": ["missing_price"]}


def test_negative_lot_quantity_is_one_finding(make_book: BookFactory) -> None:
    # positions absent for every account, so the negative lot is the only fault
    book = make_book(
        lots=lambda lots: lots.with_columns(
            quantity=pl.when(pl.col("lot_id") == "L2").then(-100.0).otherwise("quantity")
        ),
        positions=lambda pos: pos.clear(),
    )
    result = run(book)
    finding = only_finding(result)
    assert (finding["check"], finding["source_file"], finding["source_row"]) == (
        "negative_quantity",
        "c1/lots.csv",
        3,
    )
    assert suspended(result) == {"A1": ["negative_quantity"]}


def test_position_not_reconciling_with_lots(make_book: BookFactory) -> None:
    book = make_book(
        positions=lambda pos: pos.with_columns(
            quantity=pl.when(pl.col("account_id") == "A2").then(8.0).otherwise("quantity")
        )
    )
    result = run(book)
    finding = only_finding(result)
    assert (finding["check"], finding["security_id"]) == ("reconciliation_break", "SEC-A")
    assert "position 8.0 vs lots 10.0" in finding["message"]
    assert suspended(result) == {"A2": ["reconciliation_break"]}


def test_lot_without_position_breaks_reconciliation(make_book: BookFactory) -> None:
    book = make_book(positions=lambda pos: pos.filter(pl.col("security_id") != "SEC-B"))
    assert suspended(run(book)) == {"A1": ["reconciliation_break"]}


def test_split_effective_today_explains_the_gap(make_book: BookFactory) -> None:
    split = pl.DataFrame(
        {
            "security_id": ["SEC-C"],
            "symbol": ["CCC"],
            "action": ["split"],
            "effective_date": [AS_OF],
            "ratio": [2.0],
            "custodian": ["C2"],
        }
    )
    book = make_book(
        positions=lambda pos: pos.with_columns(
            quantity=pl.when(pl.col("account_id") == "A3").then(40.0).otherwise("quantity")
        ),
        corporate_actions=split,
    )
    assert suspended(run(book)) == {"A3": ["split_not_applied"]}


def test_duplicate_lot_rows_give_one_finding(make_book: BookFactory) -> None:
    book = make_book(
        lots=lambda lots: pl.concat(
            [
                lots,
                lots.filter(pl.col("lot_id") == "L4").with_columns(source_row=pl.lit(3, pl.Int64)),
            ]
        ),
    )
    result = run(book)
    finding = only_finding(result)
    assert (finding["check"], finding["source_row"], finding["account_ids"]) == (
        "duplicate_rows",
        3,
        ["A3"],
    )


def test_duplicate_price_rows_suspend_the_holders(make_book: BookFactory) -> None:
    book = make_book(prices=lambda p: pl.concat([p, p.filter(pl.col("security_id") == "SEC-B")]))
    finding = only_finding(run(book))
    assert (finding["check"], finding["account_ids"]) == ("duplicate_rows", ["A1"])


def test_firm_table_contract_violation_suspends_that_account(make_book: BookFactory) -> None:
    book = make_book(
        accounts=lambda a: a.with_columns(
            st_rate=pl.when(pl.col("account_id") == "A3").then(1.4).otherwise("st_rate")
        )
    )
    result = run(book)
    finding = only_finding(result)
    assert finding["check"] == "contract_violation"
    assert "accounts.st_rate" in finding["message"]
    assert suspended(result) == {"A3": ["contract_violation"]}


def test_acquired_after_as_of_violates_lot_contract(make_book: BookFactory) -> None:
    book = make_book(
        lots=lambda lots: lots.with_columns(
            acquired_date=pl.when(pl.col("lot_id") == "L3")
            .then(pl.lit(AS_OF + dt.timedelta(days=1)))
            .otherwise("acquired_date")
        )
    )
    assert suspended(run(book)) == {"A2": ["contract_violation"]}


def test_null_quantity_with_parse_finding_is_reported_once_and_scoped(
    make_book: BookFactory,
) -> None:
    parse = pl.DataFrame(
        {
            "check": ["malformed_number"],
            "severity": ["error"],
            "custodian": ["C1"],
            "source_file": ["c1/lots.csv"],
            "source_row": [4],
            "account_ids": [[]],
            "message": ["quantity '1O' is not a number"],
        },
        schema_overrides={"account_ids": pl.List(pl.String)},
    )
    book = make_book(
        lots=lambda lots: lots.with_columns(
            quantity=pl.when(pl.col("lot_id") == "L3").then(None).otherwise("quantity")
        ),
        positions=lambda pos: pos.clear(),
        parse_findings=parse,
    )
    result = run(book)
    finding = only_finding(result)
    assert (finding["check"], finding["account_ids"]) == ("malformed_number", ["A2"])
    assert suspended(result) == {"A2": ["malformed_number"]}


def test_null_quantity_without_parse_finding_is_null_value(make_book: BookFactory) -> None:
    book = make_book(
        lots=lambda lots: lots.with_columns(
            quantity=pl.when(pl.col("lot_id") == "L3").then(None).otherwise("quantity")
        ),
        positions=lambda pos: pos.clear(),
    )
    assert suspended(run(book)) == {"A2": ["null_value"]}


def test_file_level_parse_finding_scopes_all_custodian_accounts(make_book: BookFactory) -> None:
    parse = pl.DataFrame(
        {
            "check": ["wrong_encoding"],
            "severity": ["error"],
            "custodian": ["C1"],
            "source_file": ["c1/positions.csv"],
            "account_ids": [[]],
            "message": ["not UTF-8"],
        },
        schema_overrides={"account_ids": pl.List(pl.String)},
    )
    result = run(make_book(parse_findings=parse))
    assert only_finding(result)["account_ids"] == ["A1", "A2"]
    assert suspended(result) == {"A1": ["wrong_encoding"], "A2": ["wrong_encoding"]}


@pytest.mark.parametrize(
    ("status", "check"), [("missing", "missing_file"), ("unreadable", "unreadable_file")]
)
def test_missing_or_unreadable_file_suspends_the_custodian(
    make_book: BookFactory, status: str, check: str
) -> None:
    book = make_book(
        source_files=lambda f: f.with_columns(
            status=pl.when(pl.col("source_file") == "c2/lots.csv")
            .then(pl.lit(status))
            .otherwise("status")
        )
    )
    result = run(book)
    assert only_finding(result)["check"] == check
    assert suspended(result) == {"A3": [check]}


def test_missing_file_already_reported_by_ingest_is_not_repeated(make_book: BookFactory) -> None:
    parse = pl.DataFrame(
        {
            "check": ["missing_file"],
            "severity": ["error"],
            "custodian": ["C2"],
            "source_file": ["c2/lots.csv"],
            "account_ids": [[]],
            "message": ["no file"],
        },
        schema_overrides={"account_ids": pl.List(pl.String)},
    )
    book = make_book(
        source_files=lambda f: f.with_columns(
            status=pl.when(pl.col("source_file") == "c2/lots.csv")
            .then(pl.lit("missing"))
            .otherwise("status")
        ),
        parse_findings=parse,
    )
    assert only_finding(run(book))["message"] == "no file"


def test_late_file_after_cutoff_next_day(make_book: BookFactory) -> None:
    late = dt.datetime(2026, 3, 17, 6, 31, tzinfo=dt.UTC)
    just_in_time = dt.datetime(2026, 3, 17, 6, 30, tzinfo=dt.UTC)
    book = make_book(
        source_files=lambda f: f.with_columns(
            arrived_at=pl.when(pl.col("source_file") == "c1/prices.csv")
            .then(pl.lit(late))
            .when(pl.col("source_file") == "c2/lots.csv")
            .then(pl.lit(just_in_time))
            .otherwise("arrived_at")
        )
    )
    result = run(book)
    assert only_finding(result)["source_file"] == "c1/prices.csv"
    assert suspended(result) == {"A1": ["late_file"], "A2": ["late_file"]}


def _history(closes: list[float], security: str = "SEC-B") -> pl.DataFrame:
    days = [AS_OF - dt.timedelta(days=len(closes) - i) for i in range(len(closes))]
    return pl.DataFrame(
        {
            "price_date": days,
            "security_id": [security] * len(closes),
            "close": closes,
            "custodian": ["C1"] * len(closes),
        }
    )


def test_stale_price_same_close_three_days_running(make_book: BookFactory) -> None:
    # today's SEC-B close is 20: history 19, 20, 20 -> 20 on three days ending today
    result = run(make_book(price_history=_history([19.0, 20.0, 20.0])))
    assert only_finding(result)["check"] == "stale_price"
    assert suspended(result) == {"A1": ["stale_price"]}


def test_same_close_two_days_is_not_stale(make_book: BookFactory) -> None:
    assert run(make_book(price_history=_history([20.0, 19.5, 20.0]))).findings.is_empty()


def test_price_jump_beyond_threshold_suspends_holders(make_book: BookFactory) -> None:
    # 20 / 15 - 1 = 0.333 > 0.25
    result = run(make_book(price_history=_history([15.0], "SEC-A")))
    assert only_finding(result)["check"] == "price_jump"
    assert suspended(result) == {"A1": ["price_jump"], "A2": ["price_jump"]}


def test_jump_within_threshold_is_fine(make_book: BookFactory) -> None:
    # 10 / 8.5 - 1 = 0.176
    assert run(make_book(price_history=_history([8.5], "SEC-A"))).findings.is_empty()


def test_split_explains_a_price_jump(make_book: BookFactory) -> None:
    split = pl.DataFrame(
        {
            "security_id": ["SEC-A"],
            "symbol": ["AAA"],
            "action": ["split"],
            "effective_date": [AS_OF],
            "ratio": [2.0],
            "custodian": ["C1"],
        }
    )
    # previous close 20, today 10 after a 2-for-1 split; positions and lots already split
    book = make_book(price_history=_history([20.0], "SEC-A"), corporate_actions=split)
    assert run(book).findings.is_empty()


def test_high_priority_due_cash_request_of_suspended_account_goes_to_manual_queue(
    make_book: BookFactory,
) -> None:
    requests = pl.DataFrame(
        {
            "request_id": ["R1", "R2", "R3"],
            "account_id": ["A1", "A3", "A2"],
            "amount": [400.0, 500.0, 700.0],
            "priority": ["high", "normal", "high"],
            "due_date": [AS_OF, AS_OF, AS_OF],
        }
    )
    book = make_book(
        prices=lambda p: p.filter(pl.col("security_id") != "SEC-B").vstack(
            p.filter(pl.col("security_id") == "SEC-B").with_columns(close=pl.lit(None, pl.Float64))
        ),
        positions=lambda pos: pos.with_columns(
            quantity=pl.when(pl.col("account_id") == "A3").then(1.0).otherwise("quantity")
        ),
        cash_requests=requests,
    )
    result = run(book)
    assert suspended(result) == {"A1": ["missing_price"], "A3": ["reconciliation_break"]}
    queue = result.manual_queue.to_dicts()
    assert queue == [
        {
            "account_id": "A1",
            "reason_codes": ["missing_price"],
            "requested_amount": 400.0,
            "due_date": AS_OF,
            "cash_available": 1000.0,
            "last_good_date": None,
        }
    ]


def test_high_priority_request_due_later_is_not_queued(make_book: BookFactory) -> None:
    requests = pl.DataFrame(
        {
            "request_id": ["R1"],
            "account_id": ["A3"],
            "amount": [400.0],
            "priority": ["high"],
            "due_date": [AS_OF + dt.timedelta(days=1)],
        }
    )
    book = make_book(
        prices=lambda p: p.filter(pl.col("security_id") != "SEC-C"), cash_requests=requests
    )
    result = run(book)
    assert suspended(result) == {"A3": ["missing_price"]}
    assert result.manual_queue.is_empty()


def test_same_book_twice_gives_identical_findings(make_book: BookFactory) -> None:
    def faulty():
        return make_book(
            prices=lambda p: p.filter(pl.col("security_id") != "SEC-A"),
            positions=lambda pos: pos.with_columns(quantity=pl.col("quantity") + 1),
        )

    first, second = run(faulty()), run(faulty())
    assert first.findings.height == 5  # 1 missing price + 4 reconciliation breaks
    assert first.findings.equals(second.findings)
    assert first.findings["finding_id"].n_unique() == first.findings.height
    assert first.account_status.equals(second.account_status)


def test_file_without_trailer_cut_before_accounts_other_files_list(make_book: BookFactory) -> None:
    # C1's positions file has no trailer and stops after A1: A2 is in the lots file only
    book = make_book(
        source_files=lambda f: f.with_columns(
            trailer_rows=pl.when(pl.col("source_file") == "c1/positions.csv")
            .then(None)
            .otherwise("trailer_rows"),
            trailer_checksum=pl.when(pl.col("source_file") == "c1/positions.csv")
            .then(None)
            .otherwise("trailer_checksum"),
        ),
        positions=lambda pos: pos.filter(pl.col("account_id") != "A2"),
    )
    result = run(book)
    finding = only_finding(result)
    assert (finding["check"], finding["source_file"]) == ("truncated_file", "c1/positions.csv")
    # scope: from the last account read (A1) on; no reconciliation break repeats the cut
    assert suspended(result) == {"A1": ["truncated_file"], "A2": ["truncated_file"]}


def test_household_restriction_naming_a_security_and_a_sector_suspends_the_household(
    make_book: BookFactory,
) -> None:
    restrictions = pl.DataFrame(
        {
            "restriction_id": ["R1", "R2"],
            "household_id": ["H1", "H3"],
            "security_id": ["SEC-A", None],
            "sector": ["Tobacco", "Broad"],  # R2 is a valid restriction of H3
        }
    )
    result = run(make_book(restrictions=restrictions))
    finding = only_finding(result)
    assert finding["check"] == "contract_violation"
    assert "exactly_one_of_security_id_sector" in finding["message"]
    assert suspended(result) == {"A1": ["contract_violation"], "A2": ["contract_violation"]}


def test_empty_book_gives_empty_conformed_outputs() -> None:
    from rebalance_pipeline.book import Book

    result = run(Book.from_frames(AS_OF))
    assert result.findings.is_empty() and result.findings.schema == t.FINDINGS
    assert result.account_status.is_empty() and result.account_status.schema == t.ACCOUNT_STATUS
    assert result.manual_queue.is_empty() and result.manual_queue.schema == t.MANUAL_QUEUE


def test_every_contract_table_is_listed_for_the_asset_checks():
    import datetime as dt

    from rebalance_pipeline.validation.contracts import CONTRACT_TABLES, schemas

    assert set(CONTRACT_TABLES) == set(schemas(dt.date(2026, 3, 16)))


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (lambda t: t.filter(pl.lit(False)), "has no targets"),
        (lambda t: t.with_columns(pl.col("target_weight") * 0.5), "sum to"),
        (
            lambda t: t.with_columns(
                security_id=pl.when(pl.int_range(pl.len()) == 0)
                .then(pl.lit("SEC-GONE"))
                .otherwise("security_id")
            ),
            "SEC-GONE",
        ),
    ],
    ids=["no_targets", "weights_not_one", "unknown_target"],
)
def test_an_invalid_model_suspends_every_account_on_it(make_book, targets, message) -> None:
    result = run(make_book(model_targets=targets))
    finding = only_finding(result)
    assert finding["check"] == "invalid_model" and message in finding["message"]
    assert finding["account_ids"] == ["A1", "A2", "A3"]


def _without_trailers(files: pl.DataFrame) -> pl.DataFrame:
    return files.with_columns(trailer_rows=None, trailer_checksum=None)


def test_files_without_trailers_that_list_every_account_are_not_cut(
    make_book: BookFactory,
) -> None:
    assert run(make_book(source_files=_without_trailers)).findings.is_empty()


def test_file_without_trailer_is_not_cut_by_the_accounts_of_another_custodian(
    make_book: BookFactory,
) -> None:
    # C1's files end at A1 (A2 holds nothing); A3, listed after it, is C2's
    book = make_book(
        source_files=_without_trailers,
        positions=lambda pos: pos.filter(pl.col("account_id") != "A2"),
        lots=lambda lots: lots.filter(pl.col("account_id") != "A2"),
    )
    assert "truncated_file" not in run(book).findings["check"].to_list()
