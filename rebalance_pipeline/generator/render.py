"""Typed custodian frames -> file bytes in each custodian's format."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

import polars as pl

from rebalance_pipeline.ingest import formats as f

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


def alder_text(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns of an alder file as text, plus the fault mark."""
    columns = []
    for name in f.ALDER_COLUMNS[kind]:
        if name in f.NUMBER_COLUMNS:
            columns.append(fixed_decimal(name).alias(name))
        elif name in f.DATE_COLUMNS:
            columns.append(pl.col(name).dt.strftime("%Y-%m-%d").alias(name))
        else:
            columns.append(pl.col(name))
    return frame.select(*columns, MARK)


def birch_text(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Birch detail fields of a canonical frame as text, plus the fault mark."""
    columns = []
    for field in f.BIRCH_FIELDS[kind]:
        if field == "QTY_SIGN":
            quantity = pl.col("quantity")
            expr = pl.when(quantity < 0).then(pl.lit("-")).when(quantity >= 0).then(pl.lit("+"))
        else:
            name = f.BIRCH_TO_CANONICAL[field]
            if name in f.SIGNED_QUANTITY_COLUMNS:
                expr = fixed_decimal(name, thousands=True, signed=False)
            elif name in f.NUMBER_COLUMNS:
                expr = fixed_decimal(name, thousands=True)
            elif name in f.DATE_COLUMNS:
                expr = pl.col(name).dt.strftime("%m/%d/%Y")
            elif name in ("symbol", "new_symbol"):
                expr = pl.col(name).str.replace_all(".", "/", literal=True)
            elif name == "type":
                expr = pl.col(name).replace_strict(f.BIRCH_TRANSACTION_CODES)
            elif name == "action":
                expr = pl.col(name).replace_strict(f.BIRCH_ACTION_CODES)
            else:
                expr = pl.col(name)
        columns.append(expr.alias(field))
    return frame.select(*columns, MARK)


def to_text(custodian: str, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    return (alder_text if custodian == "alder" else birch_text)(kind, frame)


def detail_lines(custodian: str, text: pl.DataFrame, unquoted: Collection[str] = ()) -> list[str]:
    """One line per row: alder quotes a field only when it holds a comma, except in the
    rows marked with a fault of ``unquoted`` (a ragged row)."""
    fields = [c for c in text.columns if c != MARK]
    if custodian == "alder":
        needs_quotes = ~pl.col(MARK).is_in(list(unquoted)).fill_null(False)
        quoted = [
            pl.when(pl.col(c).str.contains(",", literal=True) & needs_quotes)
            .then(pl.concat_str(pl.lit('"'), pl.col(c), pl.lit('"')))
            .otherwise(pl.col(c))
            .fill_null("")
            for c in fields
        ]
        return text.select(pl.concat_str(quoted, separator=",")).to_series().to_list()
    cells = [pl.lit("D"), *(pl.col(c).fill_null("") for c in fields)]
    return text.select(pl.concat_str(cells, separator="|")).to_series().to_list()


def file_bytes(custodian: str, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
    """A complete, healthy file around its detail lines."""
    if custodian == "alder":
        return ("\n".join([",".join(f.ALDER_COLUMNS[kind]), *lines]) + "\n").encode()
    header = f"H|BIRCH|{f.BIRCH_KIND_CODES[kind]}|{file_date:%m/%d/%Y}|{f.FIRM_NAME}"
    checksum = f.trailer_checksum("\n".join(lines).encode())
    return ("\n".join([header, *lines, f"T|{len(lines)}|{checksum}"]) + "\n").encode()
