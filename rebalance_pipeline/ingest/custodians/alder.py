"""``alder_csv``: the alder (Schwab-style) format.

``<kind>_YYYYMMDD.csv``, comma-separated with a header row of the canonical column names,
ISO dates, plain decimals with a leading ``-``; a field holding a comma is quoted. No
trailer and no header date: a cut-off alder file is caught by validation (its accounts
stop short of the custodian's other files).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools

import polars as pl

from rebalance_pipeline.ingest.custodians.adapter import UnreadableFile
from rebalance_pipeline.ingest.custodians.text_records import Body, Layout, TextRecordsFormat

# Canonical columns as they appear in an alder file, in file order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "positions": ("account_id", "symbol", "quantity"),
    "lots": ("account_id", "lot_id", "symbol", "quantity", "cost_basis", "acquired_date"),
    "transactions": (
        "transaction_id",
        "account_id",
        "trade_date",
        "type",
        "symbol",
        "quantity",
        "price",
        "amount",
        "realized_gain",
        "lot_id",
    ),
    "cash": ("account_id", "cash"),
    "prices": ("symbol", "price_date", "close"),
    "corporate_actions": ("symbol", "action", "effective_date", "ratio", "new_symbol"),
}
DATE_FORMAT = "%Y-%m-%d"


class AlderCsv(TextRecordsFormat):
    separator = ","
    date_format = DATE_FORMAT
    file_date_pattern = r"_(\d{8})\.csv$"
    file_date_format = "%Y%m%d"
    blank_lines_are_records = False

    def file_name(self, kind: str, day: dt.date) -> str:
        return f"{kind}_{day:%Y%m%d}.csv"

    def layout(self, kind: str) -> Layout:
        return Layout(COLUMNS[kind], account="account_id")

    def read_body(self, content: bytes, kind: str) -> tuple[Body, None]:
        """The records after the header row; alder has nothing around them."""
        columns = COLUMNS[kind]
        header, _, body = content.partition(b"\n")
        if header.decode().strip() != ",".join(columns):
            raise UnreadableFile(f"header is not {','.join(columns)!r}")
        return body_records(body.decode()), None

    def raw_lines(self, text: str) -> pl.DataFrame:
        body = body_records(text.partition("\n")[2])
        return self.split_records([body]).drop("_file")

    def detail_rows(self, content: bytes, kind: str) -> int:
        return max(content.count(b"\n") - 1, 0)


def body_records(body: str) -> Body:
    """An alder file's body (the lines after the header), split by the CSV rules: a quoted
    field may hold a comma. A body without quotes, carriage returns or NULs has one record
    per line (split by Polars, ``split_records``); the CSV reader takes the others."""
    if any(special in body for special in ('"', "\r", "\x00")):
        return csv_records(body)
    return body.removesuffix("\n")


def csv_records(body: str) -> pl.DataFrame:
    """(source_row, fields) of the CSV records of a body (line 2 is its first line)."""
    reader = csv.reader(io.StringIO(body, newline=""))
    records, lines = [], []
    line = 2
    # each record's fields joined by a character the body lacks, split again by Polars:
    # a frame of Python lists is built ~25x slower than one of strings
    separator = next(chr(code) for code in itertools.count(1) if chr(code) not in body)
    try:
        for fields in reader:
            if fields:
                records.append(separator.join(fields))
                lines.append(line)
            line = reader.line_num + 2
    except csv.Error as error:
        raise UnreadableFile(f"line {line}: {error}") from error
    return pl.DataFrame(
        {"source_row": lines, "fields": records},
        schema={"source_row": pl.Int64, "fields": pl.String},
    ).with_columns(pl.col("fields").str.split(separator))
