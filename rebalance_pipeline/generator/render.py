"""Typed custodian frames -> file bytes in each custodian's format.

One writer per format, registered in :data:`WRITERS` by the custodian the generator
writes in it; a writer knows the adapter that reads its files (their names and
layouts), so a new format plugs in by adding its writer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Protocol

import polars as pl

from rebalance_pipeline.ingest.custodians import Custodian, alder, birch
from rebalance_pipeline.ingest.custodians.adapter import (
    DATE_COLUMNS,
    NUMBER_COLUMNS,
    CustodianAdapter,
)

# decimals written per canonical number column
DECIMALS = {
    "quantity": 3,
    "cost_basis": 2,
    "price": 4,
    "amount": 2,
    "realized_gain": 2,
    "cash": 2,
    "close": 2,
    "ratio": 4,
}
MARK = "_fault"  # column naming the fault injected into a row (null: a healthy row)


def fixed_decimal(column: str, thousands: bool = False, signed: bool = True) -> pl.Expr:
    """Fixed-point text of a float column (exact, vectorised); null stays null."""
    decimals = DECIMALS[column]
    scaled = (pl.col(column).abs() * 10**decimals).round(0).cast(pl.Int64)
    whole = (scaled // 10**decimals).cast(pl.String)
    if thousands:
        whole = whole.str.reverse().str.replace_all(r"(\d{3})", "${1},").str.strip_chars_end(",")
        whole = whole.str.reverse()
    fraction = (scaled % 10**decimals).cast(pl.String).str.zfill(decimals)
    sign = pl.when(signed & (pl.col(column) < 0)).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str(sign, whole, pl.lit("."), fraction)


class FormatWriter(Protocol):
    """Writes a custodian's files in the format ``adapter`` reads."""

    adapter: CustodianAdapter

    def text(self, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
        """The file's fields of a canonical frame as text (columns named as the format
        names its fields), plus the fault mark."""
        ...

    def detail_lines(self, text: pl.DataFrame, unquoted: Collection[str]) -> list[str]:
        """One line per row of ``text``; ``unquoted``: fault kinds whose rows are
        written as they are (a ragged row)."""
        ...

    def file_bytes(self, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
        """A complete, healthy file around its detail lines."""
        ...


class AlderWriter:
    adapter = alder.AlderCsv()

    def text(self, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
        columns = []
        for name in alder.COLUMNS[kind]:
            if name in NUMBER_COLUMNS:
                columns.append(fixed_decimal(name).alias(name))
            elif name in DATE_COLUMNS:
                columns.append(pl.col(name).dt.strftime("%Y-%m-%d").alias(name))
            else:
                columns.append(pl.col(name))
        return frame.select(*columns, MARK)

    def detail_lines(self, text: pl.DataFrame, unquoted: Collection[str]) -> list[str]:
        """A field is quoted only when it holds a comma, except in the unquoted rows."""
        fields = [c for c in text.columns if c != MARK]
        needs_quotes = ~pl.col(MARK).is_in(list(unquoted)).fill_null(False)
        quoted = [
            pl.when(pl.col(c).str.contains(",", literal=True) & needs_quotes)
            .then(pl.concat_str(pl.lit('"'), pl.col(c), pl.lit('"')))
            .otherwise(pl.col(c))
            .fill_null("")
            for c in fields
        ]
        return text.select(pl.concat_str(quoted, separator=",")).to_series().to_list()

    def file_bytes(self, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
        return ("\n".join([",".join(alder.COLUMNS[kind]), *lines]) + "\n").encode()


class BirchWriter:
    adapter = birch.BirchPipe()

    def text(self, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
        columns = []
        for field in birch.FIELDS[kind]:
            if field == "QTY_SIGN":
                quantity = pl.col("quantity")
                expr = pl.when(quantity < 0).then(pl.lit("-")).when(quantity >= 0).then(pl.lit("+"))
            else:
                name = birch.TO_CANONICAL[field]
                if name == "quantity":  # unsigned: its sign is QTY_SIGN
                    expr = fixed_decimal(name, thousands=True, signed=False)
                elif name in NUMBER_COLUMNS:
                    expr = fixed_decimal(name, thousands=True)
                elif name in DATE_COLUMNS:
                    expr = pl.col(name).dt.strftime("%m/%d/%Y")
                elif name in ("symbol", "new_symbol"):
                    expr = pl.col(name).str.replace_all(".", "/", literal=True)
                elif name == "type":
                    expr = pl.col(name).replace_strict(birch.TRANSACTION_CODES)
                elif name == "action":
                    expr = pl.col(name).replace_strict(birch.ACTION_CODES)
                else:
                    expr = pl.col(name)
            columns.append(expr.alias(field))
        return frame.select(*columns, MARK)

    def detail_lines(self, text: pl.DataFrame, unquoted: Collection[str]) -> list[str]:
        fields = [c for c in text.columns if c != MARK]
        cells = [pl.lit("D"), *(pl.col(c).fill_null("") for c in fields)]
        return text.select(pl.concat_str(cells, separator="|")).to_series().to_list()

    def file_bytes(self, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
        header = f"H|BIRCH|{birch.KIND_CODES[kind]}|{file_date:%m/%d/%Y}|{birch.FIRM_NAME}"
        checksum = birch.trailer_checksum("\n".join(lines).encode())
        return ("\n".join([header, *lines, f"T|{len(lines)}|{checksum}"]) + "\n").encode()


WRITERS: dict[str, FormatWriter] = {"alder": AlderWriter(), "birch": BirchWriter()}
# the custodians of a generated book, in this order
CUSTODIANS: dict[str, Custodian] = {c: Custodian(c, w.adapter) for c, w in WRITERS.items()}


def to_text(custodian: str, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    return WRITERS[custodian].text(kind, frame)


def detail_lines(custodian: str, text: pl.DataFrame, unquoted: Collection[str] = ()) -> list[str]:
    return WRITERS[custodian].detail_lines(text, unquoted)


def file_bytes(custodian: str, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
    return WRITERS[custodian].file_bytes(kind, file_date, lines)
