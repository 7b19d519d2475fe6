"""Known answers of the Flex Query XML reader on a hand-written daily Flex file
(``data/flex_sample.xml``: two accounts; U1000001 holds XYZ in two lots and sold 40 of the
first (a partial close), XYZ split 2 for 1, ABC became ABCD; U1000002 got a dividend and
deposited cash), and the findings of every fault the format can carry."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline.ingest.custodians import ibkr_flex as flex
from rebalance_pipeline.ingest.custodians.adapter import UnreadableFile
from rebalance_pipeline.ingest.custodians.ibkr_flex import (
    file_date,
    file_name,
    raw_records,
    read_flex,
)

SAMPLE = (Path(__file__).parent / "data" / "flex_sample.xml").read_bytes()
DAY = dt.date(2026, 3, 16)


def _rows(content: bytes, kind: str) -> list[dict]:
    return read_flex(content, kind).rows.to_dicts()


def _findings(content: bytes, kind: str) -> list[tuple]:
    found = read_flex(content, kind).row_findings
    return found.select("source_row", "account_ids", "check", "column").rows()


def test_positions_are_the_summary_open_positions():
    assert _rows(SAMPLE, "positions") == [
        {"account_id": "U1000001", "symbol": "XYZ", "quantity": 100.0, "source_row": 6},
        {"account_id": "U1000001", "symbol": "ABCD", "quantity": 10.0, "source_row": 9},
        # "1,200": a thousands separator
        {"account_id": "U1000002", "symbol": "XYZ", "quantity": 1200.0, "source_row": 28},
    ]


def test_lots_are_the_lot_open_positions_keyed_by_their_opening_transaction():
    lot = {"account_id": "U1000001", "symbol": "XYZ"}
    assert _rows(SAMPLE, "lots") == [
        # the lot partly sold today: 60 of its 100 shares left, at 40 a share
        lot
        | {"lot_id": "9001", "quantity": 60.0, "cost_basis": 2400.0}
        | {"acquired_date": dt.date(2024, 5, 2), "source_row": 7},
        lot
        | {"lot_id": "9002", "quantity": 40.0, "cost_basis": 2000.0}
        | {"acquired_date": dt.date(2025, 11, 20), "source_row": 8},
        {"account_id": "U1000001", "lot_id": "8001", "symbol": "ABCD", "quantity": 10.0}
        | {"cost_basis": 150.0, "acquired_date": dt.date(2023, 1, 9), "source_row": 10},
        # a date without its time
        {"account_id": "U1000002", "lot_id": "7001", "symbol": "XYZ", "quantity": 1200.0}
        | {"cost_basis": 30000.0, "acquired_date": dt.date(2019, 7, 1), "source_row": 29},
    ]


def test_transactions_are_the_trades_and_cash_transactions():
    none = {"quantity": None, "price": None, "realized_gain": None, "cost_basis": None}
    assert _rows(SAMPLE, "transactions") == [
        # the partial close: 40 shares of lot 9001, gain and basis as IBKR computed them
        {"transaction_id": "9101", "account_id": "U1000001", "trade_date": DAY}
        | {"type": "sell", "symbol": "XYZ", "quantity": 40.0, "price": 52.0, "amount": 2079.0}
        | {"realized_gain": 479.0, "cost_basis": 1600.0, "lot_id": "9001", "source_row": 13},
        # a buy names no lot
        {"transaction_id": "9002", "account_id": "U1000001", "trade_date": dt.date(2025, 11, 20)}
        | {"type": "buy", "symbol": "XYZ", "quantity": 40.0, "price": 50.0, "amount": -2000.0}
        | {"realized_gain": None, "cost_basis": None, "lot_id": None, "source_row": 15},
        {"transaction_id": "9301", "account_id": "U1000002", "trade_date": DAY}
        | {"type": "dividend", "symbol": "XYZ", "amount": 300.0, "lot_id": None}
        | none
        | {"source_row": 32},
        # symbol="": null
        {"transaction_id": "9302", "account_id": "U1000002", "trade_date": DAY}
        | {"type": "deposit", "symbol": None, "amount": 5000.0, "lot_id": None}
        | none
        | {"source_row": 33},
    ]


def test_a_sell_that_closed_several_lots_names_none():
    closed = SAMPLE.split(b"\n")[13]  # the CLOSED_LOT of sell 9101
    second = closed.replace(b'origTransactionID="9001"', b'origTransactionID="9002"')
    content = SAMPLE.replace(closed, closed + b"\n" + second)
    sell = _rows(content, "transactions")[0]
    assert (sell["transaction_id"], sell["lot_id"], sell["realized_gain"]) == ("9101", None, 479.0)


def test_cash_is_the_base_summary_ending_cash():
    assert _rows(SAMPLE, "cash") == [
        {"account_id": "U1000001", "cash": 3000.5, "source_row": 22},
        {"account_id": "U1000002", "cash": 5300.0, "source_row": 39},
    ]


def test_prices_are_the_mark_prices_once_per_symbol():
    assert _rows(SAMPLE, "prices") == [
        {"price_date": DAY, "symbol": "XYZ", "close": 51.25, "source_row": 6},
        {"price_date": DAY, "symbol": "ABCD", "close": 20.5, "source_row": 9},
    ]


def test_corporate_actions_once_per_action_with_ratio_and_new_symbol():
    assert _rows(SAMPLE, "corporate_actions") == [
        {"symbol": "XYZ", "action": "split", "effective_date": DAY, "ratio": 2.0}
        | {"new_symbol": None, "source_row": 18},
        {"symbol": "ABC", "action": "symbol_change", "effective_date": DAY, "ratio": None}
        | {"new_symbol": "ABCD", "source_row": 19},
    ]


@pytest.mark.parametrize(
    "kind", ["positions", "lots", "transactions", "cash", "prices", "corporate_actions"]
)
def test_a_whole_file_reads_clean_and_declares_its_date(kind):
    reading = read_flex(SAMPLE, kind)
    assert reading.row_findings.is_empty()
    assert reading.file_findings == ()
    assert reading.declared_date == DAY
    assert reading.detail_rows == reading.rows.height


def test_a_reverse_split_ratio():
    content = SAMPLE.replace(b"SPLIT 2 FOR 1 (XYZ", b"SPLIT 1 FOR 4 (XYZ").replace(
        b'type="FS"', b'type="RS"'
    )
    assert [r["ratio"] for r in _rows(content, "corporate_actions")] == [0.25, None]


def test_a_bad_date_time_is_a_finding_of_its_account_only():
    content = SAMPLE.replace(b'openDateTime="2019-07-01"', b'openDateTime="2026-02-30;093000"')
    assert _findings(content, "lots") == [(29, ["U1000002"], "malformed_date", "acquired_date")]
    rows = read_flex(content, "lots").rows
    assert rows.filter(pl.col("acquired_date").is_null())["lot_id"].to_list() == ["7001"]
    assert rows.height == 4


def test_a_bad_mark_price_is_a_price_finding_of_the_account_that_sent_it():
    content = SAMPLE.replace(
        b'position="1,200" markPrice="51.25"', b'position="1,200" markPrice="51.2x"'
    )
    assert _findings(content, "prices") == [(28, ["U1000002"], "malformed_number", "close")]
    assert _findings(content, "positions") == []  # markPrice is no column of positions


def test_an_unknown_trade_side_is_a_malformed_row_of_its_account():
    content = SAMPLE.replace(
        b'buySell="SELL" quantity="-40" tradePrice', b'buySell="SOLD" quantity="-40" tradePrice'
    )
    assert _findings(content, "transactions") == [(13, ["U1000001"], "malformed_row", "type")]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"account,symbol,quantity\nU1,XYZ,1\n", "not well-formed"),
        # what the Flex web service sends while the statement is not ready
        (
            b"<FlexStatementResponse><Status>Warn</Status>"
            b"<ErrorCode>1019</ErrorCode></FlexStatementResponse>",
            "FlexStatementResponse",
        ),
        # an entity is never expanded (no billion laughs)
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]>'
            b"<FlexQueryResponse>&a;</FlexQueryResponse>",
            "forbidden",
        ),
    ],
)
def test_what_is_not_a_flex_query_response_is_unreadable(content, reason):
    with pytest.raises(UnreadableFile, match=reason):
        read_flex(content, "positions")


def test_a_download_cut_short_is_truncated_and_keeps_what_was_read():
    cut = SAMPLE[: SAMPLE.index(b"<CashTransaction ")]
    reading = read_flex(cut, "positions")
    assert [check for check, _ in reading.file_findings] == ["truncated_file"]
    assert reading.rows["source_row"].to_list() == [6, 9, 28]


def test_a_download_cut_inside_an_attribute_is_truncated():
    cut = SAMPLE[: SAMPLE.index(b'endingCash="5300') + 14]
    assert [c for c, _ in read_flex(cut, "cash").file_findings] == ["truncated_file"]


def test_a_missing_statement_breaks_the_statement_count():
    second = SAMPLE.index(b'<FlexStatement accountId="U1000002"')
    end = SAMPLE.index(b"</FlexStatements>")
    reading = read_flex(SAMPLE[:second] + SAMPLE[end:], "cash")
    assert reading.file_findings == (
        ("truncated_file", "FlexStatements count=2, 1 statements read: truncated file"),
    )


def test_a_count_that_is_no_number_is_a_malformed_trailer():
    content = SAMPLE.replace(b'count="2"', b'count="two"')
    assert [c for c, _ in read_flex(content, "cash").file_findings] == ["malformed_trailer"]


def test_content_after_the_document_is_reported():
    content = SAMPLE + b"Statement generation in progress.\n"
    reading = read_flex(content, "cash")
    assert [c for c, _ in reading.file_findings] == ["content_after_trailer"]
    assert reading.rows.height == 2


def test_a_stale_file_declares_the_earlier_date():
    stale = SAMPLE.replace(b'toDate="2026-03-16" period', b'toDate="2026-03-13" period')
    reading = read_flex(stale, "positions")
    assert reading.declared_date == dt.date(2026, 3, 13)
    assert reading.row_findings.is_empty()


def test_one_stale_statement_is_a_finding_of_its_account():
    first = SAMPLE.index(b'toDate="2026-03-16" period')
    stale = SAMPLE[:first] + SAMPLE[first:].replace(
        b'toDate="2026-03-16" period', b'toDate="2026-03-13" period', 1
    )
    reading = read_flex(stale, "lots")
    assert reading.declared_date == DAY
    assert _findings(stale, "lots") == [(4, ["U1000001"], "stale_statement", "")]


def test_raw_records_keep_the_text_as_delivered():
    raw = raw_records(SAMPLE, "lots")
    last = raw.row(-1, named=True)
    assert (last["position"], last["openDateTime"], last["source_row"]) == (
        "1,200",
        "2019-07-01",
        29,
    )
    assert raw["originatingTransactionID"].to_list() == ["9001", "9002", "8001", "7001"]
    assert 'conid="1001"' in last["extra_fields"]


def test_file_name_and_date():
    assert file_name(DAY) == "rebalance_daily.20260316.xml"
    assert file_date("rebalance_daily.20260316.xml") == DAY
    assert file_date("rebalance_daily.20260230.xml") is None
    assert file_date("positions_20260316.csv") is None


def test_a_file_is_parsed_once_for_all_its_kinds_and_raw_records(monkeypatch):
    """One Flex file holds every kind: ingest reads it per kind for the raw tables and
    the canonical ones, and each read used to parse the whole document again."""
    parsed: list[bytes] = []
    parse = flex.parse_document

    def counted(content: bytes) -> flex.Document:
        parsed.append(content)
        return parse(content)

    monkeypatch.setattr(flex, "RECENT_DOCUMENTS", flex._RecentDocuments(size=1))
    monkeypatch.setattr(flex, "parse_document", counted)
    same_bytes_read_again = bytes(bytearray(SAMPLE))
    readings = {kind: read_flex(SAMPLE, kind) for kind in flex.KINDS}
    records = {kind: raw_records(same_bytes_read_again, kind) for kind in flex.KINDS}
    assert len(parsed) == 1
    monkeypatch.undo()
    for kind in flex.KINDS:  # the same as a reading of a fresh parse
        fresh = flex._RecentDocuments(size=1)
        monkeypatch.setattr(flex, "RECENT_DOCUMENTS", fresh)
        assert readings[kind].rows.equals(read_flex(SAMPLE, kind).rows)
        assert records[kind].equals(raw_records(SAMPLE, kind))


def test_readers_of_one_file_in_threads_share_one_parse(monkeypatch):
    parsed: list[bytes] = []
    parse = flex.parse_document
    started = threading.Barrier(3)

    def slow(content: bytes) -> flex.Document:
        parsed.append(content)
        time.sleep(0.2)  # the other readers arrive while this one parses
        return parse(content)

    monkeypatch.setattr(flex, "RECENT_DOCUMENTS", flex._RecentDocuments(size=1))
    monkeypatch.setattr(flex, "parse_document", slow)

    def read(kind: str) -> pl.DataFrame:
        started.wait()
        return read_flex(SAMPLE, kind).rows

    with ThreadPoolExecutor(max_workers=3) as pool:
        rows = list(pool.map(read, ["positions", "lots", "cash"]))
    assert len(parsed) == 1
    assert [frame.height for frame in rows] == [3, 4, 2]


def test_an_unreadable_file_is_unreadable_for_every_kind_and_only_the_last_files_are_kept(
    monkeypatch,
):
    documents = flex._RecentDocuments(size=1)
    monkeypatch.setattr(flex, "RECENT_DOCUMENTS", documents)
    for kind in ("positions", "lots"):
        with pytest.raises(UnreadableFile, match="root element"):
            read_flex(b"<Other/>", kind)
    read_flex(SAMPLE, "cash")
    assert list(documents._documents) == [SAMPLE]


def test_a_parse_that_fails_unexpectedly_fails_its_waiting_readers_and_is_retried(monkeypatch):
    parse = flex.parse_document
    started = threading.Barrier(2)
    failures = iter([MemoryError("no room")])

    def failing_once(content: bytes) -> flex.Document:
        time.sleep(0.2)  # the other reader arrives while this one parses
        for failure in failures:
            raise failure
        return parse(content)

    monkeypatch.setattr(flex, "RECENT_DOCUMENTS", flex._RecentDocuments(size=1))
    monkeypatch.setattr(flex, "parse_document", failing_once)

    def read(kind: str) -> str:
        started.wait()
        try:
            read_flex(SAMPLE, kind)
        except MemoryError as error:
            return str(error)
        return "read"

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(read, ["positions", "lots"])) == ["no room", "no room"]
    assert read_flex(SAMPLE, "cash").rows.height == 2


def test_a_bad_text_repeated_by_several_accounts_is_a_finding_of_each():
    """Values are converted once per distinct text; a text that does not convert is
    still a finding of every element that sent it."""
    content = SAMPLE.replace(
        b'markPrice="51.25" costBasisMoney', b'markPrice="51.2x" costBasisMoney'
    )
    assert _findings(content, "prices") == [
        (6, ["U1000001"], "malformed_number", "close"),
        (28, ["U1000002"], "malformed_number", "close"),
    ]
    assert _findings(SAMPLE, "prices") == []  # the good text of the same file converts
