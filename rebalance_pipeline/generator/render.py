"""Typed custodian frames -> file bytes in each custodian's format.

One writer per format (:class:`FormatWriter`); ``writers.py`` names the custodian the
generator writes in each. A writer knows the adapter that reads its files (their names
and layouts) and how a delivery of its format breaks, so a new format plugs in by adding
its writer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

import numpy as np
import polars as pl

from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.ingest.custodians import alder, birch
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


@dataclasses.dataclass(frozen=True)
class DayFile:
    """One file of a custodian-day as written, before any file fault."""

    kinds: tuple[str, ...]  # the canonical kinds it carries
    name: str
    content: bytes
    lines: dict[str, int]  # fault id -> line of the first row marked with it
    accounts: tuple[str | None, ...] = ()  # account of each detail line (one-kind files)

    @property
    def healthy(self) -> bool:
        """No row of the file carries a fault."""
        return not self.lines


@dataclasses.dataclass(frozen=True)
class Truncated:
    """A file cut short: its bytes, the last detail line read (None: not a line) and
    the first account cut off (None: every account of the custodian is touched)."""

    content: bytes
    row: int | None
    first_account_cut: str | None = None


Spoiler = Callable[[bytes, dt.date], bytes]


class FormatWriter(Protocol):
    """Writes a custodian's files in the format the adapter ``adapter_name`` reads, and
    breaks them as real deliveries of that format break."""

    adapter_name: str
    adapter: CustodianAdapter
    # file faults that leave a file in place, by fault kind: (bytes, day) -> bytes
    spoilers: Mapping[str, Spoiler]
    malformed_date: str  # a date as the format writes it, of a day that does not exist

    def day_files(
        self,
        day: dt.date,
        frames: Mapping[str, pl.DataFrame],
        overrides: Mapping[str, tuple[str, str]],
        unquoted: Collection[str],
    ) -> list[DayFile]:
        """The files of a custodian-day's canonical ``frames`` (with their fault marks):
        ``overrides`` (fault id -> (canonical column, text)) writes the text instead of
        the value in the rows marked with the id; ``unquoted``: fault ids whose rows are
        written as they are (a ragged row)."""
        ...

    def truncate(self, file: DayFile, rng: np.random.Generator) -> Truncated: ...


class TextFileWriter:
    """A format of one delimited text file per kind: subclasses give each kind's fields
    as text, the detail lines and the file around them."""

    adapter: CustodianAdapter

    def text(self, kind: str, frame: pl.DataFrame) -> pl.DataFrame:
        """The file's fields of a canonical frame as text, plus the fault mark."""
        raise NotImplementedError

    def field(self, column: str) -> str:
        """The field that carries a canonical column."""
        return column

    def detail_lines(self, text: pl.DataFrame, unquoted: Collection[str]) -> list[str]:
        raise NotImplementedError

    def file_bytes(self, kind: str, file_date: dt.date, lines: list[str]) -> bytes:
        """A complete, healthy file around its detail lines."""
        raise NotImplementedError

    def day_files(
        self,
        day: dt.date,
        frames: Mapping[str, pl.DataFrame],
        overrides: Mapping[str, tuple[str, str]],
        unquoted: Collection[str],
    ) -> list[DayFile]:
        files = []
        for kind, frame in frames.items():
            text = self._overridden(self.text(kind, frame), overrides)
            lines = self.detail_lines(text, unquoted)
            marked = text.get_column(MARK).drop_nulls().unique(maintain_order=True)
            account = self.field("account_id")
            files.append(
                DayFile(
                    (kind,),
                    self.adapter.file_name(kind, day),
                    self.file_bytes(kind, day, lines),
                    {fault_id: first_marked_line(text, fault_id) for fault_id in marked},
                    tuple(text[account]) if account in text.columns else (),
                )
            )
        return files

    def _overridden(
        self, text: pl.DataFrame, overrides: Mapping[str, tuple[str, str]]
    ) -> pl.DataFrame:
        for fault_id, (column, value) in overrides.items():
            field = self.field(column)
            if field in text.columns:
                text = text.with_columns(
                    pl.when(pl.col(MARK) == fault_id)
                    .then(pl.lit(value))
                    .otherwise(pl.col(field))
                    .alias(field)
                )
        return text


def first_marked_line(text: pl.DataFrame, fault_id: str) -> int:
    """1-based line number of the first row marked with ``fault_id`` (line 1 is the header)."""
    index = text.with_row_index().filter(pl.col(MARK) == fault_id)["index"]
    return int(index.min()) + 2


def kept_lines(
    content: bytes, rng: np.random.Generator, trailer_lines: int
) -> tuple[list[str], int]:
    """The lines of a file and how many of them a cut keeps: the header and 1 to all but
    one of its details (``trailer_lines`` after the details are never kept)."""
    lines = content.decode().split("\n")[:-1]
    details = len(lines) - 1 - trailer_lines
    keep = int(rng.integers(1, details)) if details > 1 else 1
    return lines, 1 + keep


class AlderWriter(TextFileWriter):
    adapter_name = "alder_csv"
    adapter = alder.AlderCsv()
    spoilers: Mapping[str, Spoiler] = {}
    malformed_date = "2026-02-30"

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

    def truncate(self, file: DayFile, rng: np.random.Generator) -> Truncated:
        """Stops in the middle of a line, just after the account id of the last row
        read: without a trailer, the accounts before the cut are whole."""
        lines, last_line = kept_lines(file.content, rng, trailer_lines=0)
        partial = lines[last_line - 1]
        cut = "\n".join([*lines[: last_line - 1], partial[: partial.index(",") + 2]])
        return Truncated(cut.encode(), last_line, file.accounts[last_line - 2])


class BirchWriter(TextFileWriter):
    adapter_name = "birch_pipe"
    adapter = birch.BirchPipe()
    malformed_date = "13/45/2026"

    def __init__(self) -> None:
        self.spoilers: Mapping[str, Spoiler] = {
            "checksum_corrupted": lambda content, day: corrupt_value(content),
            "trailing_junk": add_trailing_junk,
            "stale_header_date": lambda content, day: restamp_header(content, session_before(day)),
        }

    def field(self, column: str) -> str:
        return next(k for k, v in birch.TO_CANONICAL.items() if v == column)

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

    def truncate(self, file: DayFile, rng: np.random.Generator) -> Truncated:
        """Loses its last detail records and the trailer."""
        lines, last_line = kept_lines(file.content, rng, trailer_lines=1)
        return Truncated(("\n".join(lines[:last_line]) + "\n").encode(), last_line)


def session_before(day: dt.date) -> dt.date:
    return previous_business_days(day, 1)[0]


def corrupt_value(content: bytes) -> bytes:
    """A birch file with the last digit of its middle detail record changed and the
    trailer left as it was: only the checksum can tell."""
    lines = content.split(b"\n")
    middle = 1 + (len(lines) - 3) // 2  # lines: header, details, trailer, "" at the end
    digit = lines[middle][-1:]
    lines[middle] = lines[middle][:-1] + (b"1" if digit != b"1" else b"2")
    return b"\n".join(lines)


def restamp_header(content: bytes, day: dt.date) -> bytes:
    """A birch file whose header carries ``day`` instead of its own date."""
    header, _, rest = content.partition(b"\n")
    fields = header.split(b"|")
    fields[3] = f"{day:%m/%d/%Y}".encode()
    return b"|".join(fields) + b"\n" + rest


TRAILING_JUNK = ("", "# resent by operations")  # a blank line or a comment


def add_trailing_junk(content: bytes, day: dt.date) -> bytes:
    """A birch file with a line after its trailer (blank or a comment, by the day)."""
    return content + TRAILING_JUNK[day.toordinal() % len(TRAILING_JUNK)].encode() + b"\n"
