"""Parse one custodian file into its canonical table, keeping every row.

Values are read as text and converted with explicit checks: a value that does not parse
becomes null and a parse finding names its file, line and account. A file that is
absent or cannot be decoded yields a file-level finding and an empty table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from pathlib import Path

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.ingest import formats as f
from rebalance_pipeline.ingest.drop_files import foreign_reason
from rebalance_pipeline.ingest.records import (
    DATE_FORMATS,
    Body,
    Envelope,
    UnreadableFile,
    read_alder,
    read_birch,
    split_records,
    text_columns,
    without_transport_artefacts,
)

KIND_SCHEMAS: dict[str, pl.Schema] = {
    "positions": t.POSITIONS,
    "lots": t.LOTS,
    "transactions": t.TRANSACTIONS,
    "cash": t.CASH_BALANCES,
    "prices": t.PRICES,
    "corporate_actions": t.CORPORATE_ACTIONS,
}
NO_FINDINGS = t.empty(t.FINDINGS)
GROUPED_NUMBER = r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$"
TRAILER = re.compile(r"T\|\d+\|[0-9a-f]{16}")
FOUND_SCHEMA = {
    "source_row": pl.Int64,
    "account_ids": pl.List(pl.String),
    "message": pl.String,
    "column": pl.String,
}
FILE_DATE_PATTERNS = {
    "alder": (r"_(\d{8})\.csv$", "%Y%m%d"),
    "birch": (r"\.(\d{6})\.dat$", "%y%m%d"),
}


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

    def file_finding(self, check: str, message: str) -> pl.DataFrame:
        """A finding about this whole file (load_book scopes it to the custodian)."""
        fields = ("custodian", "kind", "file_date", "source_file")
        return _file_finding({name: getattr(self, name) for name in fields}, check, message)

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


def parse_file(path: Path, custodian: str, kind: str, *, root: Path | None = None) -> ParsedFile:
    """Parse ``path``, a ``kind`` file of ``custodian``; never raises on bad content.

    ``source_file`` is ``path`` relative to ``root`` (the book root) when given. A file
    that fails its integrity check or is stale keeps its rows, with a file-level finding
    that makes the whole file untrusted; a path that is not a regular file of the drop
    folder is never read.
    """
    return parse_files([path], custodian, kind, root=root)[0]


def parse_files(
    paths: list[Path], custodian: str, kind: str, *, root: Path | None = None
) -> list[ParsedFile]:
    """:func:`parse_file` of each of ``paths`` (files of one custodian and kind), their
    records typed in one pass: many small files (a history of prices) cost little more
    than one. Each file's rows and findings are those it gives parsed alone."""
    read = [_read(path, custodian, kind, root) for path in paths]
    delivered = [file for file in read if isinstance(file, _Delivered)]
    typed = iter(_typed_files(delivered, custodian, kind))
    return [file if isinstance(file, ParsedFile) else _parsed(file, *next(typed)) for file in read]


def parse_rows(
    path: Path, custodian: str, kind: str, keep: pl.DataFrame, *, root: Path | None = None
) -> pl.DataFrame:
    """The rows :func:`parse_file` gives ``path`` whose ``keep`` columns match a row of
    ``keep``; only those are typed (a large file read for a few of its rows). No findings;
    empty when the file is not read."""
    file = _read(path, custodian, kind, root)
    if isinstance(file, ParsedFile):
        return file.rows
    ((rows, _),) = _typed_files([file], custodian, kind, keep)
    return rows


@dataclasses.dataclass(frozen=True)
class _Delivered:
    """A file read and split into records, not typed yet."""

    base: dict
    sha256: str
    body: Body
    envelope: Envelope | None


def _read(path: Path, custodian: str, kind: str, root: Path | None) -> ParsedFile | _Delivered:
    """The file's records, or the file-level finding that stops it being read."""
    source_file = path.relative_to(root).as_posix() if root else path.as_posix()
    base = {
        "custodian": custodian,
        "kind": kind,
        "file_date": _file_date(path.name, custodian),
        "source_file": source_file,
    }
    if not path.exists() and not path.is_symlink():
        return _not_read(base, "missing", None, "missing_file", f"{source_file} was not delivered")
    foreign = foreign_reason(path, root / "drops" if root else path.parent)
    if foreign is not None:
        message = f"{source_file} is not a regular file of the drop folder ({foreign}): not read"
        return _not_read(base, "foreign", None, "foreign_file", message)
    content = path.read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()
    try:
        if not content.isascii():  # ASCII is valid UTF-8; only other bytes need decoding
            content.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"{source_file} is not UTF-8 text ({error.reason} at byte {error.start})"
        return _not_read(base, "unreadable", sha256, "wrong_encoding", message)
    try:
        body, envelope = (read_alder if custodian == "alder" else read_birch)(
            without_transport_artefacts(content), kind
        )
    except UnreadableFile as error:
        message = f"{source_file}: {error}"
        return _not_read(base, "unreadable", sha256, "unreadable_file", message)
    return _Delivered(base, sha256, body, envelope)


def _not_read(base: dict, status: str, sha256: str | None, check: str, message: str) -> ParsedFile:
    """A file that is not read or not parsed: no rows, one finding about the file."""
    return ParsedFile(
        **base,
        status=status,
        sha256=sha256,
        rows=t.empty(KIND_SCHEMAS[base["kind"]]),
        findings=_file_finding(base, check, message),
    )


def _parsed(file: _Delivered, rows: pl.DataFrame, found: list[pl.DataFrame]) -> ParsedFile:
    """The parsed file of ``file``'s typed rows and row findings, with its file checks."""
    envelope, base = file.envelope, file.base
    found = [
        *found,
        *_integrity_findings(envelope, rows.height, base),
        *_stale_findings(rows, envelope, base),
    ]
    return ParsedFile(
        **base,
        status="ok",
        sha256=file.sha256,
        rows=rows,
        findings=pl.concat(found) if found else NO_FINDINGS,
        detail_rows=rows.height,
        trailer_rows=envelope.trailer_rows if envelope else None,
        trailer_checksum=envelope.trailer_checksum if envelope else None,
        computed_checksum=envelope.computed_checksum if envelope else None,
    )


def _file_date(name: str, custodian: str) -> dt.date | None:
    pattern, date_format = FILE_DATE_PATTERNS[custodian]
    match = re.search(pattern, name)
    if match is None:
        return None
    try:
        return dt.datetime.strptime(match.group(1), date_format).date()
    except ValueError:
        return None


def _malformed_rows(ragged: pl.DataFrame, base: dict) -> pl.DataFrame:
    found = ragged.select(
        "source_row",
        account_ids=pl.concat_list("account_id").list.drop_nulls(),
        message="message",
        column=pl.lit(""),
    )
    return _findings(found, "malformed_row", base)


def _integrity_findings(envelope: Envelope | None, details: int, base: dict) -> list[pl.DataFrame]:
    """A birch file is whole when its last line is a trailer ``T|<records>|<checksum>``
    that counts and sums the records between it and the header."""
    if envelope is None:
        return []
    name = base["source_file"]
    if envelope.trailer is None:
        message = (
            f"{name} has no trailer record (it ends at line {envelope.last_line}): truncated file"
        )
        return [_file_finding(base, "truncated_file", message)]
    found = []
    if TRAILER.fullmatch(envelope.trailer) is None:
        message = f"{name}: trailer {envelope.trailer!r} is not T|<record count>|<checksum>"
        found.append(_file_finding(base, "malformed_trailer", message))
    elif envelope.trailer_rows != details:
        claimed = envelope.trailer_rows
        message = f"{name}: trailer claims {claimed} records, {details} read: truncated file"
        found.append(_file_finding(base, "truncated_file", message))
    elif envelope.trailer_checksum != envelope.computed_checksum:
        message = (
            f"{name}: checksum mismatch, the trailer says {envelope.trailer_checksum}, "
            f"the records read sum to {envelope.computed_checksum}"
        )
        found.append(_file_finding(base, "checksum_mismatch", message))
    if envelope.lines_after_trailer:
        message = f"{name} has {envelope.lines_after_trailer} line(s) after its trailer"
        found.append(_file_finding(base, "content_after_trailer", message))
    return found


def _stale_findings(
    rows: pl.DataFrame, envelope: Envelope | None, base: dict
) -> list[pl.DataFrame]:
    """stale_file when the file's own as-of is not its drop date: the birch header, or
    every price date of a prices file (single rows of another date are row findings)."""
    drop_date, name = base["file_date"], base["source_file"]
    if drop_date is None:
        return []
    if envelope is not None and envelope.header_date != drop_date:
        dated = envelope.header_date
        message = f"{name} is a stale file: its header is dated {dated}, the drop {drop_date}"
        return [_file_finding(base, "stale_file", message)]
    if base["kind"] != "prices":
        return []
    dates = rows.get_column("price_date").drop_nulls()
    if dates.is_empty() or (dates == drop_date).any():
        return []
    shown = ", ".join(str(d) for d in dates.unique().sort().head(3))
    message = f"{name} is a stale file: its prices are dated {shown}, the drop {drop_date}"
    return [_file_finding(base, "stale_file", message)]


def _typed_files(
    files: list[_Delivered], custodian: str, kind: str, keep: pl.DataFrame | None = None
) -> list[tuple[pl.DataFrame, list[pl.DataFrame]]]:
    """(rows, row findings) of each file: the records of all ``files`` (with ``keep``,
    only those whose ``keep`` columns match a row of it) converted to the canonical types
    in one pass; bad values -> null + a finding.

    One pass computes every conversion and a flag column per checked column; findings
    are only built for the columns whose flag is set somewhere.
    """
    if not files:
        return []
    records = split_records([file.body for file in files], custodian)
    text, ragged = text_columns(records, custodian, kind)
    if keep is not None:
        text = text.join(keep, on=keep.columns, how="semi", maintain_order="left")
    conversions, problems = [], []
    for name in text.columns:
        value = pl.col(name)
        if name in f.NUMBER_COLUMNS:
            parsed, valid = _number(value, custodian, signed=name in f.SIGNED_QUANTITY_COLUMNS)
            conversions.append(pl.when(valid).then(parsed).alias(name))
            problems.append(("malformed_number", name, value.is_not_null() & ~valid))
        elif name in f.DATE_COLUMNS:
            parsed = _date(text, name, custodian)
            conversions.append(parsed.alias(name))
            problems.append(("malformed_date", name, value.is_not_null() & parsed.is_null()))
        elif custodian == "birch" and name in ("symbol", "new_symbol"):
            conversions.append(value.str.replace_all("/", ".", literal=True))
        elif custodian == "birch" and name in ("type", "action"):
            codes = f.BIRCH_TRANSACTION_CODES if name == "type" else f.BIRCH_ACTION_CODES
            conversions.append(value.replace({v: k for k, v in codes.items()}))
    flags = [bad.fill_null(False).alias(f"_bad{i}") for i, (_, _, bad) in enumerate(problems)]
    names = {i: file.base["source_file"] for i, file in enumerate(files)}
    typed = text.with_columns(
        *conversions,
        *flags,
        custodian=pl.lit(custodian),
        source_file=pl.col("_file").replace_strict(names, return_dtype=pl.String),
    )
    rows = _by_file(
        t.conform(typed, KIND_SCHEMAS[kind]).with_columns(typed.get_column("_file")), len(files)
    )
    found: list[list[pl.DataFrame]] = [[] for _ in files]
    for i, (check, name, _) in enumerate(problems):
        bad = typed.get_column(f"_bad{i}")
        if bad.any():
            value_rows = _by_file(_value_findings(text.filter(bad), check, name), len(files))
            for file, (part, found_in_file) in enumerate(zip(value_rows, found, strict=True)):
                if not part.is_empty():
                    found_in_file.append(_findings(part, check, files[file].base))
    if not ragged.is_empty():
        for file, (part, found_in_file) in enumerate(
            zip(_by_file(ragged, len(files)), found, strict=True)
        ):
            if not part.is_empty():
                found_in_file.append(_malformed_rows(part, files[file].base))
    return list(zip(rows, found, strict=True))


def _by_file(frame: pl.DataFrame, files: int) -> list[pl.DataFrame]:
    """``frame``'s rows of each file 0 .. files - 1 (column ``_file``), in their order."""
    if files == 1:
        return [frame.drop("_file")]
    parts = frame.partition_by("_file", as_dict=True, include_key=False, maintain_order=True)
    empty = frame.clear().drop("_file")
    return [parts.get((i,), empty) for i in range(files)]


def _number(value: pl.Expr, custodian: str, signed: bool) -> tuple[pl.Expr, pl.Expr]:
    """(parsed value, is valid) of a number column in the custodian's notation.

    alder: plain decimals, anything a float parse rejects is malformed. birch: thousands
    separators must group by three; a quantity is unsigned with its sign in QTY_SIGN.
    """
    if custodian == "alder":
        parsed = value.cast(pl.Float64, strict=False)
        return parsed, parsed.is_not_null()
    parsed = value.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
    valid = value.str.contains(GROUPED_NUMBER).fill_null(False)
    if signed:
        sign = pl.col("QTY_SIGN")
        valid = valid & sign.is_in(["+", "-"]).fill_null(False) & ~value.str.starts_with("-")
        parsed = pl.when(sign == "-").then(-parsed).otherwise(parsed)
    return parsed, valid


def _date(text: pl.DataFrame, name: str, custodian: str) -> pl.Expr:
    """Parsed dates; each distinct text is parsed once (a file repeats few dates)."""
    distinct = text.get_column(name).drop_nulls().unique()
    parsed = distinct.str.strptime(pl.Date, DATE_FORMATS[custodian], strict=False)
    return pl.col(name).replace_strict(distinct, parsed, default=None, return_dtype=pl.Date)


def _value_findings(text: pl.DataFrame, check: str, column: str) -> pl.DataFrame:
    """(source_row, account_ids, message, column, _file) of the bad values in ``text``."""
    account = pl.col("account_id") if "account_id" in text.columns else pl.lit(None, pl.String)
    described = "number" if check == "malformed_number" else "date"
    return text.select(
        "_file",
        "source_row",
        account_ids=pl.concat_list(account).list.drop_nulls(),
        message=pl.format(f"{column} '{{}}' is not a valid {described}", pl.col(column)),
        column=pl.lit(column),
    )


def _file_finding(base: dict, check: str, message: str) -> pl.DataFrame:
    """A finding about a whole file; load_book scopes it to the custodian's accounts."""
    found = pl.DataFrame(
        {"source_row": [None], "account_ids": [[]], "message": [message], "column": [""]},
        schema=FOUND_SCHEMA,
    )
    return _findings(found, check, base)


def _findings(found: pl.DataFrame, check: str, base: dict) -> pl.DataFrame:
    keys = [
        f"{check}|{base['source_file']}|{row}|{column}"
        for row, column in zip(found["source_row"], found["column"], strict=True)
    ]
    frame = found.with_columns(
        finding_id=pl.Series(
            [hashlib.sha256(k.encode()).hexdigest()[:16] for k in keys], dtype=pl.String
        ),
        trade_date=pl.lit(base["file_date"], pl.Date),
        check=pl.lit(check),
        severity=pl.lit("error"),
        custodian=pl.lit(base["custodian"]),
        source_file=pl.lit(base["source_file"]),
    )
    return t.conform(frame, t.FINDINGS)
