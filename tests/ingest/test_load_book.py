"""load_book on the shipped sample book."""

from __future__ import annotations

import datetime as dt

import builtin_custodians as f
import polars as pl
import pytest

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import CANONICAL_TABLES
from rebalance_pipeline.generator import SAMPLE_DIR, GeneratorConfig, generate_book
from rebalance_pipeline.ingest import load_book

# the sample book's latest date and its faults on other dates
# (from data/sample/ground_truth/faults.csv)
LATEST_DAY = dt.date(2026, 3, 16)
UTF16_DAY = dt.date(2026, 3, 11)  # birch lots are UTF-16
SYMBOL_CHANGE_DAY = dt.date(2026, 3, 10)


@pytest.fixture(scope="module")
def book():
    return load_book(SAMPLE_DIR, LATEST_DAY)


def test_row_counts_match_the_files(book):
    assert all(book.tables()[n].schema == s for n, s in CANONICAL_TABLES.items())
    for table, kind in [
        ("positions", "positions"),
        ("lots", "lots"),
        ("prices", "prices"),
        ("corporate_actions", "corporate_actions"),
        ("cash_balances", "cash"),
    ]:
        expected = sum(f.detail_count(SAMPLE_DIR, c, kind, LATEST_DAY) for c in f.CUSTODIAN)
        assert book.tables()[table].height == expected, table
    assert set(book.cash_balances["custodian"]) == {"alder", "birch", "cedar"}
    firm_accounts = pl.read_csv(SAMPLE_DIR / "firm" / "accounts.csv")
    assert book.accounts.height == firm_accounts.height == 300
    assert book.accounts["last_firm_trade_date"].null_count() == 300


def test_a_garbled_file_is_a_finding_and_the_rest_still_ingests():
    book = load_book(SAMPLE_DIR, UTF16_DAY, lookback_business_days=1)
    lots = book.source_files.filter(pl.col("kind") == "lots", pl.col("custodian") == "birch")
    assert lots["status"].to_list() == ["unreadable"]
    (finding,) = book.parse_findings.iter_rows(named=True)
    birch = sorted(book.accounts.filter(pl.col("custodian") == "birch")["account_id"])
    assert finding["check"] == "wrong_encoding"
    assert finding["source_file"] == "drops/2026-03-11/birch/LOTS.260311.dat"
    assert finding["account_ids"] == birch
    assert book.lots.filter(pl.col("custodian") == "birch").is_empty()
    assert book.positions.filter(pl.col("custodian") == "birch").height > 500
    ok = book.source_files.filter(pl.col("status") == "ok")
    assert ok.height == 17 and ok["arrived_at"].null_count() == 0
    assert ok["sha256"].str.len_chars().to_list() == [64] * 17


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
    assert action["custodian"].to_list() == ["alder", "birch", "cedar"]
    assert action["security_id"].unique().to_list() == ["SEC-SOCL"]
    assert action["new_symbol"].unique().to_list() == ["MTAX"]


def test_history_of_the_lookback_window(book):
    assert book.price_history["price_date"].n_unique() == 60
    assert book.price_history["price_date"].max() == dt.date(2026, 3, 13)
    # one row per security, day and text custodian, less the sample's missing price (2 rows);
    # the Flex custodian's marks of what its accounts hold, from its first drop on
    text = book.price_history.filter(pl.col("custodian") != "cedar")
    assert text.height == 60 * 2 * 40 - 2 and text["security_id"].null_count() == 0
    flex = book.price_history.filter(pl.col("custodian") == "cedar")
    assert flex["price_date"].min() == dt.date(2026, 2, 24)
    # a held symbol the Flex file misstates is a mark of no security (its position is a finding)
    unmapped = flex.filter(pl.col("security_id").is_null())
    truth = pl.read_csv(SAMPLE_DIR / "ground_truth" / "faults.csv", try_parse_dates=True).filter(
        pl.col("custodian") == "cedar",
        pl.col("fault_kind").is_in(["symbol_change_not_applied", "unknown_security"]),
    )
    assert set(unmapped.select("price_date", "source_row").iter_rows()) <= set(
        truth.select("file_date", "row").iter_rows()
    )
    assert unmapped.height == truth["file_date"].n_unique()
    dates = book.transactions["trade_date"]
    assert dates.max() == LATEST_DAY and dates.min() == dt.date(2026, 2, 24)
    short = load_book(SAMPLE_DIR, LATEST_DAY, lookback_business_days=2)
    assert short.transactions["trade_date"].unique().sort().to_list() == [
        dt.date(2026, 3, 12),
        dt.date(2026, 3, 13),
        LATEST_DAY,
    ]


def test_truncated_file_is_visible_in_source_files(tmp_path):
    config = GeneratorConfig(
        accounts=60, households=20, days=1, warmup_days=3, seed=3, fault_rate=1.0,
        fault_kinds=("truncated_file",), custodians=("alder", "birch"),
    )  # fmt: skip
    generated = generate_book(config, tmp_path / "book")
    fault = generated.faults.row(0, named=True)
    custodian, day = fault["custodian"], fault["file_date"]
    (kind,) = [
        k
        for k in f.CUSTODIAN[custodian].adapter.kinds
        if f.drop_path(custodian, k, day).endswith(fault["file_name"])
    ]
    book = load_book(generated.root, day, lookback_business_days=1)
    files = book.source_files.filter(pl.col("custodian") == custodian)
    record = files.filter(pl.col("kind") == kind).row(0, named=True)
    table = "cash_balances" if kind == "cash" else kind
    read = book.tables()[table].filter(pl.col("custodian") == custodian)
    assert record["trailer_rows"] is None and record["detail_rows"] == read.height > 0
    assert read["source_row"].max() == read.height + 1  # after the header record
    complete = files.filter(pl.col("kind") != kind)
    assert complete["trailer_checksum"].to_list() == complete["computed_checksum"].to_list()


def test_missing_day_is_empty_but_never_crashes():
    empty = load_book(SAMPLE_DIR, dt.date(2026, 3, 17), lookback_business_days=1)
    assert empty.positions.is_empty()
    assert set(empty.source_files["status"]) == {"missing"}
    # one per missing file: six of each text custodian, the one Flex file
    assert empty.parse_findings.height == 6 + 6 + 1
    assert empty.parse_findings.schema == t.FINDINGS


def test_an_unreadable_firm_file_is_a_clear_error(tmp_path):
    from rebalance_pipeline.ingest.firm import FirmFileError

    with pytest.raises(FirmFileError, match=r"accounts\.csv"):
        load_book(tmp_path, LATEST_DAY, lookback_business_days=1)


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
