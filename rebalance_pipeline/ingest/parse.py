"""Parse one custodian file into its canonical table, keeping every row.

Ingest reads the file safely (a regular file of the drop folder, UTF-8 text) and the
custodian's adapter reads its bytes (custodians/adapter.py): a value that does not parse
becomes null and a parse finding names its file, line and account. A file that is absent
or cannot be decoded yields a file-level finding and an empty table; a file whose own
date is not the drop date is stale, whatever its format.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
from pathlib import Path

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.ingest.custodians import Custodian, FileReading, UnreadableFile
from rebalance_pipeline.ingest.custodians.adapter import KIND_SCHEMAS, ROW_FINDINGS
from rebalance_pipeline.ingest.drop_files import foreign_reason

NO_FINDINGS = t.empty(t.FINDINGS)
UTF8_BOM = b"\xef\xbb\xbf"


@dataclasses.dataclass(frozen=True)
class ParsedFile:
    """One custodian file: its canonical rows, its findings and what its trailer claims."""

    custodian: str
    kind: str
    file_date: dt.date | None
    source_file: str
    status: str  # ok | missing | foreign | unreadable
    sha256: str | None
    rows: pl.DataFrame  # the kind's canonical schema; security_id is left null
    findings: pl.DataFrame  # tables.FINDINGS
    detail_rows: int | None = None
    trailer_rows: int | None = None
    trailer_checksum: str | None = None
    computed_checksum: str | None = None
    size: int | None = None  # bytes as delivered, when read

    def file_finding(self, check: str, message: str) -> pl.DataFrame:
        """A finding about this whole file (load_book scopes it to the custodian)."""
        fields = ("custodian", "kind", "file_date", "source_file")
        return file_finding({name: getattr(self, name) for name in fields}, check, message)

    def source_file_record(self, arrived_at: dt.datetime | None) -> dict:
        """This file's row of tables.SOURCE_FILES."""
        fields = (
            "custodian",
            "kind",
            "file_date",
            "source_file",
            "sha256",
            "detail_rows",
            "trailer_rows",
            "trailer_checksum",
            "computed_checksum",
            "status",
        )
        return {name: getattr(self, name) for name in fields} | {"arrived_at": arrived_at}


def parse_file(
    path: Path, custodian: Custodian, kind: str, *, root: Path | None = None
) -> ParsedFile:
    """Parse ``path``, a ``kind`` file of ``custodian``; never raises on bad content.

    ``source_file`` is ``path`` relative to ``root`` (the book root) when given. A file
    that fails its integrity check or is stale keeps its rows, with a file-level finding
    that makes the whole file untrusted; a path that is not a regular file of the drop
    folder is never read.
    """
    return parse_files([path], custodian, kind, root=root)[0]


def parse_files(
    paths: list[Path], custodian: Custodian, kind: str, *, root: Path | None = None
) -> list[ParsedFile]:
    """:func:`parse_file` of each of ``paths`` (files of one custodian and kind), read by
    the adapter at once: many small files (a history of prices) cost little more than
    one. Each file's rows and findings are those it gives parsed alone."""
    read = [_read(path, custodian, kind, root) for path in paths]
    delivered = [file for file in read if isinstance(file, _Delivered)]
    readings = iter(_readings(custodian, delivered, kind))
    return [
        file if isinstance(file, ParsedFile) else _parsed(file, next(readings)) for file in read
    ]


def parse_rows(
    path: Path, custodian: Custodian, kind: str, keep: pl.DataFrame, *, root: Path | None = None
) -> pl.DataFrame:
    """The rows :func:`parse_file` gives ``path`` whose ``keep`` columns match a row of
    ``keep`` (the adapter may type only those: a large file read for a few of its rows).
    No findings; empty when the file is not read."""
    file = _read(path, custodian, kind, root)
    if isinstance(file, ParsedFile):
        return file.rows
    (reading,) = _readings(custodian, [file], kind, keep)
    if isinstance(reading, UnreadableFile | AdapterError):
        return t.empty(KIND_SCHEMAS[kind])
    rows = _canonical_rows(reading.rows, file.base)
    return rows.join(keep, on=keep.columns, how="semi", maintain_order="left")


def _readings(
    custodian: Custodian, files: list[_Delivered], kind: str, keep: pl.DataFrame | None = None
) -> list[FileReading | UnreadableFile | AdapterError]:
    """The adapter's reading of each file; where the adapter fails (a firm's own module
    may have a bug), an AdapterError: a batch it fails on is read a file at a time, to
    tell the files it fails on from the others."""
    try:
        readings = custodian.adapter.read_files([file.content for file in files], kind, keep=keep)
    except Exception as error:  # a third party's code: any error is its own
        if len(files) > 1:
            return [reading for file in files for reading in _readings(custodian, [file], kind)]
        return [AdapterError(custodian, error)]
    if len(readings) != len(files):
        wrong = ValueError(f"{len(readings)} readings of {len(files)} files")
        return [AdapterError(custodian, wrong)] * len(files)
    return readings


class AdapterError(Exception):
    """A custodian's adapter failed reading a file."""

    def __init__(self, custodian: Custodian, error: Exception) -> None:
        adapter = type(custodian.adapter).__name__
        reason = " ".join(str(error).split()) or type(error).__name__
        super().__init__(f"the {custodian.name} adapter {adapter} failed reading it ({reason})")


@dataclasses.dataclass(frozen=True)
class _Delivered:
    """A file read from the drop folder: its bytes as delivered (``sent``) and as its
    custodian wrote them (``content``)."""

    base: dict
    sent: bytes

    @functools.cached_property
    def sha256(self) -> str:
        """Of the bytes as delivered; computed when asked (a file read for a few of its
        rows is not hashed)."""
        return hashlib.sha256(self.sent).hexdigest()

    @functools.cached_property
    def content(self) -> bytes:
        return without_transport_artefacts(self.sent)


def _read(
    path: Path, custodian: Custodian, kind: str, root: Path | None
) -> ParsedFile | _Delivered:
    """The file's bytes, or the file-level finding that stops it being read."""
    source_file = path.relative_to(root).as_posix() if root else path.as_posix()
    base = {
        "custodian": custodian.name,
        "kind": kind,
        "file_date": custodian.adapter.file_date(path.name),
        "source_file": source_file,
    }
    if not path.exists() and not path.is_symlink():
        return _not_read(base, "missing", None, "missing_file", f"{source_file} was not delivered")
    foreign = foreign_reason(path, root / "drops" if root else path.parent)
    if foreign is not None:
        message = f"{source_file} is not a regular file of the drop folder ({foreign}): not read"
        return _not_read(base, "foreign", None, "foreign_file", message)
    delivered = _Delivered(base, path.read_bytes())
    try:
        if not delivered.sent.isascii():  # ASCII is valid UTF-8; only other bytes need decoding
            delivered.sent.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"{source_file} is not UTF-8 text ({error.reason} at byte {error.start})"
        return _not_read(base, "unreadable", delivered.sha256, "wrong_encoding", message)
    return delivered


def without_transport_artefacts(content: bytes) -> bytes:
    """The file as its custodian wrote it: a UTF-8 byte-order mark and CRLF line ends
    are added in transport (a trailer's checksum is computed without them)."""
    content = content.removeprefix(UTF8_BOM)
    return content.replace(b"\r\n", b"\n") if b"\r" in content else content


def _not_read(base: dict, status: str, sha256: str | None, check: str, message: str) -> ParsedFile:
    """A file that is not read or not parsed: no rows, one finding about the file."""
    return ParsedFile(
        **base,
        status=status,
        sha256=sha256,
        rows=t.empty(KIND_SCHEMAS[base["kind"]]),
        findings=file_finding(base, check, message),
    )


def _parsed(file: _Delivered, reading: FileReading | UnreadableFile | AdapterError) -> ParsedFile:
    """The parsed file of the adapter's reading of ``file``, with its file checks."""
    base = file.base
    if isinstance(reading, UnreadableFile | AdapterError):
        check = "unreadable_file" if isinstance(reading, UnreadableFile) else "adapter_error"
        message = f"{base['source_file']}: {reading}"
        return _not_read(base, "unreadable", file.sha256, check, message)
    rows = _canonical_rows(reading.rows, base)
    found = [
        *([_findings(reading.row_findings, base)] if not reading.row_findings.is_empty() else []),
        *(
            file_finding(base, check, message.replace("{file}", base["source_file"]))
            for check, message in reading.file_findings
        ),
        *_stale_findings(rows, reading.declared_date, base),
    ]
    return ParsedFile(
        **base,
        status="ok",
        sha256=file.sha256,
        rows=rows,
        findings=pl.concat(found) if found else NO_FINDINGS,
        detail_rows=rows.height if reading.detail_rows is None else reading.detail_rows,
        trailer_rows=reading.trailer_rows,
        trailer_checksum=reading.trailer_checksum,
        computed_checksum=reading.computed_checksum,
        size=len(file.sent),
    )


def _canonical_rows(rows: pl.DataFrame, base: dict) -> pl.DataFrame:
    """An adapter's rows in the kind's canonical schema, with their custodian and file."""
    named = rows.with_columns(
        custodian=pl.lit(base["custodian"]), source_file=pl.lit(base["source_file"])
    )
    return t.conform(named, KIND_SCHEMAS[base["kind"]])


def _stale_findings(
    rows: pl.DataFrame, declared_date: dt.date | None, base: dict
) -> list[pl.DataFrame]:
    """stale_file when the file's own as-of is not its drop date: the date it declares
    (a header), or every price date of a prices file (single rows of another date are
    row findings)."""
    drop_date, name = base["file_date"], base["source_file"]
    if drop_date is None:
        return []
    if declared_date is not None and declared_date != drop_date:
        message = (
            f"{name} is a stale file: its header is dated {declared_date}, the drop {drop_date}"
        )
        return [file_finding(base, "stale_file", message)]
    if base["kind"] != "prices":
        return []
    dates = rows.get_column("price_date").drop_nulls()
    if dates.is_empty() or (dates == drop_date).any():
        return []
    shown = ", ".join(str(d) for d in dates.unique().sort().head(3))
    message = f"{name} is a stale file: its prices are dated {shown}, the drop {drop_date}"
    return [file_finding(base, "stale_file", message)]


def file_finding(base: dict, check: str, message: str) -> pl.DataFrame:
    """A finding about a whole file; load_book scopes it to the custodian's accounts."""
    found = pl.DataFrame(
        {
            "source_row": [None],
            "account_ids": [[]],
            "check": [check],
            "message": [message],
            "column": [""],
        },
        schema=ROW_FINDINGS,
    )
    return _findings(found, base)


def _findings(found: pl.DataFrame, base: dict) -> pl.DataFrame:
    """tables.FINDINGS of a file's (source_row, account_ids, check, message, column)."""
    keys = [
        f"{check}|{base['source_file']}|{row}|{column}"
        for check, row, column in zip(
            found["check"], found["source_row"], found["column"], strict=True
        )
    ]
    frame = found.with_columns(
        finding_id=pl.Series(
            [hashlib.sha256(k.encode()).hexdigest()[:16] for k in keys], dtype=pl.String
        ),
        trade_date=pl.lit(base["file_date"], pl.Date),
        severity=pl.lit("error"),
        custodian=pl.lit(base["custodian"]),
        source_file=pl.lit(base["source_file"]),
    )
    return t.conform(frame, t.FINDINGS)
