"""The custodians of the sample and generated books (alder, birch, and cedar in Flex Query
XML), by name, and their detail records counted straight from the bytes."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Collection
from pathlib import Path

import polars as pl

from rebalance_pipeline.generator import SAMPLE_DIR, sample_config
from rebalance_pipeline.generator.writers import WRITERS
from rebalance_pipeline.ingest.custodians import Custodian, book_custodians

CUSTODIAN: dict[str, Custodian] = {c.name: c for c in book_custodians(SAMPLE_DIR)}
CUSTODIANS = ("alder", "birch")  # the text formats
# the custodians the test process's definitions are loaded with (REBALANCE_BOOK: the sample)
SAMPLE_CUSTODIANS = sample_config().custodians


def drop_path(custodian: str, kind: str, day: dt.date) -> str:
    return CUSTODIAN[custodian].drop_path(kind, day)


def to_text(custodian: str, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A text format's fields of a canonical frame (alder, birch)."""
    return WRITERS[custodian].text(kind, frame)


def detail_lines(custodian: str, text: pl.DataFrame, unquoted: Collection[str] = ()) -> list[str]:
    return WRITERS[custodian].detail_lines(text, unquoted)


def file_bytes(custodian: str, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
    return WRITERS[custodian].file_bytes(kind, file_date, lines)


# a Flex file's records of each kind: (element, level of detail or None); prices and
# corporate actions are repeated by every statement holding the security, read once
FLEX_RECORDS = {
    "positions": [("OpenPosition", "SUMMARY")],
    "lots": [("OpenPosition", "LOT")],
    "transactions": [("Trade", "EXECUTION"), ("CashTransaction", None)],
    "cash": [("CashReportCurrency", None)],
    "prices": [("OpenPosition", "SUMMARY")],
    "corporate_actions": [("CorporateAction", None)],
}
FLEX_REPEATED = {"prices": ("symbol", "markPrice", "reportDate"), "corporate_actions": None}


def detail_count(root: Path, custodian: str, kind: str, day: dt.date) -> int:
    """Detail records of one custodian's file of a kind: data lines of a text format, the
    elements of the kind in a Flex file (a repeated one once)."""
    content = (root / CUSTODIAN[custodian].drop_path(kind, day)).read_bytes()
    if custodian == "cedar":
        return _flex_records(content, kind)
    lines = content.decode("utf-8").rstrip("\n").split("\n")
    return len(lines) - (1 if custodian == "alder" else 2)


def _flex_records(content: bytes, kind: str) -> int:
    seen: set[tuple] = set()
    count = 0
    for tag, detail in FLEX_RECORDS[kind]:
        for element in ET.fromstring(content).iter(tag):
            if detail is not None and element.get("levelOfDetail") != detail:
                continue
            if kind == "cash" and element.get("currency") != "BASE_SUMMARY":
                continue
            if kind in FLEX_REPEATED:
                fields = FLEX_REPEATED[kind] or sorted(set(element.attrib) - {"accountId"})
                seen.add(tuple(element.get(name) for name in fields))
            else:
                count += 1
    return count + len(seen)
