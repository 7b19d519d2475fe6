"""load_book on the shipped sample book."""

from __future__ import annotations

import datetime as dt

import builtin_custodians as f
import polars as pl
import pytest

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import CANONICAL_TABLES
from rebalance_pipeline.generator import SAMPLE_DIR
from rebalance_pipeline.ingest import load_book

# faults of the sample book on these dates (from data/sample/ground_truth/faults.csv)
UTF16_DAY = dt.date(2026, 3, 16)  # alder cash is UTF-16
TRUNCATED_DAY = dt.date(2026, 3, 13)  # birch positions cut at line 512
SYMBOL_CHANGE_DAY = dt.date(2026, 3, 10)


@pytest.fixture(scope="module")
def book():
    return load_book(SAMPLE_DIR, UTF16_DAY)


def detail_count(custodian: str, kind: str, day: dt.date) -> int:
    lines = (SAMPLE_DIR / f.drop_path(custodian, kind, day)).read_text().rstrip("\n").split("\n")
    return len(lines) - (1 if custodian == "alder" else 2)


def test_row_counts_match_the_files(book):
    assert all(book.tables()[n].schema == s for n, s in CANONICAL_TABLES.items())
    for table, kind in [
        ("positions", "positions"),
        ("lots", "lots"),
        ("prices", "prices"),
        ("corporate_actions", "corporate_actions"),
    ]:
        expected = sum(detail_count(c, kind, UTF16_DAY) for c in f.CUSTODIANS)
        assert book.tables()[table].height == expected, table
    assert book.cash_balances.height == detail_count("birch", "cash", UTF16_DAY)
    assert set(book.cash_balances["custodian"]) == {"birch"}
    firm_accounts = pl.read_csv(SAMPLE_DIR / "firm" / "accounts.csv")
    assert book.accounts.height == firm_accounts.height == 300
    assert book.accounts["last_firm_trade_date"].null_count() == 300


def test_a_garbled_file_is_a_finding_and_the_rest_still_ingests(book):
    cash = book.source_files.filter(pl.col("kind") == "cash", pl.col("custodian") == "alder")
    assert cash["status"].to_list() == ["unreadable"]
    (finding,) = book.parse_findings.iter_rows(named=True)
    alder = sorted(book.accounts.filter(pl.col("custodian") == "alder")["account_id"])
    assert finding["check"] == "wrong_encoding"
    assert finding["source_file"] == "drops/2026-03-16/alder/cash_20260316.csv"
    assert finding["account_ids"] == alder
    assert book.positions.filter(pl.col("custodian") == "alder").height > 1000
    ok = book.source_files.filter(pl.col("status") == "ok")
    assert ok.height == 11 and ok["arrived_at"].null_count() == 0
    assert ok["sha256"].str.len_chars().to_list() == [64] * 11


def test_firm_files_as_of_the_date(book):
    assert book.securities.height == 40
    assert book.securities.filter(pl.col("security_id") == "SEC-SOCL")["symbol"][0] == "MTAX"
    before = load_book(SAMPLE_DIR, dt.date(2026, 3, 9), lookback_business_days=5)
    assert before.securities.filter(pl.col("security_id") == "SEC-SOCL")["symbol"][0] == "SOCL"
    created = pl.read_csv(SAMPLE_DIR / "firm" / "cash_requests.csv", try_parse_dates=True)
    assert (
        before.cash_requests.height
        == created.filter(pl.col("created_date") <= dt.date(2026, 3, 9)).height
    )
    assert book.cash_requests.height == created.height
    assert book.restrictions["sector"].unique().to_list() == ["Tobacco"]
    assert book.holds.height == 1 and book.halts.height == 1


def test_symbols_map_to_security_ids_as_of_the_date():
    day = load_book(SAMPLE_DIR, SYMBOL_CHANGE_DAY, lookback_business_days=3)
    unmapped = day.positions.filter(pl.col("security_id").is_null())
    truth = pl.read_csv(SAMPLE_DIR / "ground_truth" / "faults.csv").filter(
        pl.col("fault_kind") == "symbol_change_not_applied"
    )
    assert unmapped["symbol"].unique().to_list() == ["SOCL"]
    assert sorted(unmapped["account_id"]) == sorted(truth["account_ids"]) != []
    assert day.positions.filter(pl.col("symbol") == "MTAX")["security_id"].unique().to_list() == [
        "SEC-SOCL"
    ]
    action = day.corporate_actions.filter(pl.col("action") == "symbol_change")
    assert action["security_id"].to_list() == ["SEC-SOCL", "SEC-SOCL"]
    assert action["new_symbol"].to_list() == ["MTAX", "MTAX"]


def test_history_of_the_lookback_window(book):
    assert book.price_history["price_date"].n_unique() == 60
    assert book.price_history["price_date"].max() == dt.date(2026, 3, 13)
    assert book.price_history["security_id"].null_count() == 0
    # one row per security, custodian and day, less the sample's missing price (2 rows)
    assert book.price_history.height == 60 * 2 * 40 - 2
    dates = book.transactions["trade_date"]
    assert dates.max() == UTF16_DAY and dates.min() == dt.date(2026, 2, 24)
    short = load_book(SAMPLE_DIR, UTF16_DAY, lookback_business_days=2)
    assert short.transactions["trade_date"].unique().sort().to_list() == [
        dt.date(2026, 3, 12),
        dt.date(2026, 3, 13),
        UTF16_DAY,
    ]


def test_truncated_file_is_visible_in_source_files():
    day = load_book(SAMPLE_DIR, TRUNCATED_DAY, lookback_business_days=1)
    files = day.source_files.filter(pl.col("custodian") == "birch", pl.col("kind") == "positions")
    record = files.row(0, named=True)
    assert record["trailer_rows"] is None and record["detail_rows"] == 511
    last = day.positions.filter(pl.col("custodian") == "birch")["source_row"].max()
    assert last == 512
    complete = day.source_files.filter(pl.col("custodian") == "birch", pl.col("kind") == "lots")
    assert complete["trailer_checksum"].to_list() == complete["computed_checksum"].to_list()


def test_missing_day_is_empty_but_never_crashes():
    empty = load_book(SAMPLE_DIR, dt.date(2026, 3, 17), lookback_business_days=1)
    assert empty.positions.is_empty()
    assert set(empty.source_files["status"]) == {"missing"}
    assert empty.parse_findings.height == 12
    assert empty.parse_findings.schema == t.FINDINGS


def test_an_unreadable_firm_file_is_a_clear_error(tmp_path):
    from rebalance_pipeline.ingest.firm import FirmFileError

    with pytest.raises(FirmFileError, match=r"accounts\.csv"):
        load_book(tmp_path, UTF16_DAY, lookback_business_days=1)


@pytest.mark.parametrize(
    ("row", "fields"),
    [("R9,A000001,,SEC-TOBA", 4), ("R9,A000001,,SEC-TOBA,,sells 1,001,000 max,2020-01-01,", 10)],
)
def test_a_firm_row_with_fewer_or_more_fields_than_its_header_is_a_clear_error(
    tmp_path, row: str, fields: int
):
    """A short restriction row would be read with its sector silently null (the client's
    restriction lost); a long one shifted. Neither is guessed at: the date stops, naming
    the file and line."""
    import shutil

    from rebalance_pipeline.ingest.firm import FirmFileError, read_firm_file

    shutil.copytree(SAMPLE_DIR / "firm", tmp_path / "firm")
    restrictions = tmp_path / "firm" / "restrictions.csv"
    lines = restrictions.read_text().splitlines()
    restrictions.write_text("\n".join([*lines, row]) + "\n")
    with pytest.raises(
        FirmFileError, match=rf"restrictions\.csv line {len(lines) + 1}: {fields} fields"
    ):
        read_firm_file(tmp_path, "restrictions")


def test_a_missing_transactions_file_of_the_wash_sale_window_is_a_finding(tmp_path):
    """A gap in the last 30 days of transactions never silently means no wash-sale
    window; days before a custodian's feed began are not a gap."""
    import shutil

    root = tmp_path / "book"
    shutil.copytree(SAMPLE_DIR, root)
    as_of = dt.date(2026, 3, 16)
    assert "missing_history" not in load_book(root, as_of).parse_findings["check"].to_list()
    (root / f.drop_path("birch", "transactions", dt.date(2026, 3, 10))).unlink()
    findings = load_book(root, as_of).parse_findings.filter(pl.col("check") == "missing_history")
    assert findings["source_file"].to_list() == ["drops/2026-03-10/birch/TRANSACTIONS.260310.dat"]
    birch = load_book(root, as_of).accounts.filter(pl.col("custodian") == "birch")
    assert findings["account_ids"][0].to_list() == sorted(birch["account_id"])
