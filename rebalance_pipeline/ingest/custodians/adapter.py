"""The custodian adapter interface: what ingest asks of a custodian's file format.

A custodian delivers its files in ``drops/YYYY-MM-DD/<custodian>/``; an adapter knows its
format: which canonical kinds it delivers, the file name of each kind and day, how to read
a file's bytes into the kind's canonical rows with the faults it finds (values that do
not convert, rows that do not fit, the integrity of the file as a whole, the date the
file states about itself), and the raw records (text exactly as delivered) of a file.

Everything else is ingest's, the same for every custodian: the drop folder (a missing
file, a symlink or a path outside the book, bytes that are not UTF-8), the stale check
against the drop date, resent files, missing history, symbols mapped to securities and
every finding scoped to the custodian's accounts. ``docs/custodians.md`` is the guide.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Protocol

import polars as pl

from rebalance_pipeline import tables as t

KINDS = ("positions", "lots", "transactions", "cash", "prices", "corporate_actions")
KIND_SCHEMAS: dict[str, pl.Schema] = {
    "positions": t.POSITIONS,
    "lots": t.LOTS,
    "transactions": t.TRANSACTIONS,
    "cash": t.CASH_BALANCES,
    "prices": t.PRICES,
    "corporate_actions": t.CORPORATE_ACTIONS,
}
INGEST_COLUMNS = ("custodian", "source_file", "security_id")  # filled in by ingest
# Value kinds of the canonical columns; everything else is text.
NUMBER_COLUMNS = frozenset(
    {"quantity", "cost_basis", "price", "amount", "realized_gain", "cash", "close", "ratio"}
)
DATE_COLUMNS = frozenset({"acquired_date", "trade_date", "price_date", "effective_date"})
ROW_FINDINGS = pl.Schema(
    {
        "source_row": pl.Int64,
        "account_ids": pl.List(pl.String),
        "check": pl.String,  # malformed_number | malformed_date | malformed_row | ...
        "message": pl.String,
        "column": pl.String,  # "" for a finding about a whole row
    }
)


def reading_schema(kind: str) -> pl.Schema:
    """The columns of a :class:`FileReading`'s rows for ``kind``: the canonical table's
    less those ingest fills in (``source_row`` is the line of the file)."""
    return pl.Schema(
        {n: d for n, d in KIND_SCHEMAS[kind].items() if n not in INGEST_COLUMNS},
    )


class UnreadableFile(ValueError):
    """The file decodes but is not a file of the expected format and kind."""


@dataclasses.dataclass(frozen=True)
class FileReading:
    """What a custodian adapter reads from one file for one canonical kind."""

    # The kind's canonical columns (reading_schema(kind); a column the format does not
    # carry is absent or null) and source_row. A value that does not convert is null
    # and has a row finding.
    rows: pl.DataFrame
    row_findings: pl.DataFrame  # ROW_FINDINGS
    # (check, message) of integrity faults of the whole file (truncated_file,
    # checksum_mismatch, malformed_trailer, content_after_trailer, ...): they make the
    # whole file untrusted. ``{file}`` in a message is replaced by the file's path.
    file_findings: tuple[tuple[str, str], ...] = ()
    # the as-of date the file states about itself (a header date); ingest's stale check
    # compares it with the drop date
    declared_date: dt.date | None = None
    detail_rows: int | None = None  # records read (None: the rows' count)
    trailer_rows: int | None = None  # what the file's trailer claims (None: no trailer)
    trailer_checksum: str | None = None
    computed_checksum: str | None = None


class CustodianAdapter(Protocol):
    """One custodian file format. Ingest gives every method bytes it has already
    checked: a regular file inside the drop folder, valid UTF-8, a byte-order mark and
    CRLF line ends removed for :meth:`read_files` (raw records get the bytes as sent).

    ``kinds``: the canonical kinds (of :data:`KINDS`) the custodian delivers; a kind it
    does not deliver is not owed. Several kinds may share one file (the same
    ``file_name``); reading it for a kind yields only that kind's rows.
    """

    kinds: tuple[str, ...]

    def file_name(self, kind: str, day: dt.date) -> str:
        """The name of the file of ``kind`` for the business day ``day``."""
        ...

    def file_date(self, file_name: str) -> dt.date | None:
        """The business day a file name is for (None: the name has no valid date)."""
        ...

    def read_files(
        self, contents: list[bytes], kind: str, keep: pl.DataFrame | None = None
    ) -> list[FileReading | UnreadableFile]:
        """The reading of each file of ``contents`` for ``kind``, in order, or the
        ``UnreadableFile`` of a file that is not one of this format and kind at all.

        Ingest passes many small files at once (a history of prices): type them in one
        pass if the format allows. ``keep`` (columns of the kind with the values wanted)
        is a hint that only the rows matching one of its rows are needed: an adapter
        may ignore it, ingest filters the rows again.
        """
        ...

    def raw_columns(self, kind: str) -> tuple[str, ...]:
        """The text columns of the kind's raw table, in the format's own names."""
        ...

    def raw_records(self, content: bytes, kind: str) -> pl.DataFrame:
        """Every record of the file for ``kind`` as delivered: ``raw_columns(kind)`` as
        text (null for a field the record lacks), ``extra_fields`` (fields beyond the
        layout, as sent, or null) and ``source_row`` (Int64, the line). Raises
        ``ValueError`` when the file cannot be split into records."""
        ...

    def detail_rows(self, content: bytes, kind: str) -> int:
        """The number of detail records of ``kind`` in a file, counted cheaply (no
        parsing): recent days' counts are the yardstick for today's."""
        ...
