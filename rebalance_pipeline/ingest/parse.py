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
DATE_FORMATS = {"alder": "%Y-%m-%d", "birch": "%m/%d/%Y"}
FILE_DATE_PATTERNS = {
    "alder": (r"_(\d{8})\.csv$", "%Y%m%d"),
    "birch": (r"\.(\d{6})\.dat$", "%y%m%d"),
}


class UnreadableFile(ValueError):
    """The file decodes but is not a file of the expected custodian and kind."""


@dataclasses.dataclass(frozen=True)
class ParsedFile:
    """One custodian file: its canonical rows, its findings and what its trailer claims."""

    custodian: str
    kind: str
    file_date: dt.date | None
    source_file: str
    status: str  # ok | missing | unreadable
    sha256: str | None
    rows: pl.DataFrame  # the kind's canonical schema; security_id is left null
    findings: pl.DataFrame  # tables.FINDINGS
    detail_rows: int | None = None
    trailer_rows: int | None = None
    trailer_checksum: str | None = None
    computed_checksum: str | None = None

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

    ``source_file`` is ``path`` relative to ``root`` (the book root) when given.
    """
    source_file = path.relative_to(root).as_posix() if root else path.as_posix()
    file_date = _file_date(path.name, custodian)
    base = {
        "custodian": custodian,
        "kind": kind,
        "file_date": file_date,
        "source_file": source_file,
    }
    empty_rows = t.empty(KIND_SCHEMAS[kind])
    if not path.is_file():
        finding = _file_finding(base, "missing_file", f"{source_file} was not delivered")
        return ParsedFile(**base, status="missing", sha256=None, rows=empty_rows, findings=finding)
    content = path.read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()
    try:
        if not content.isascii():  # ASCII is valid UTF-8; only other bytes need decoding
            content.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"{source_file} is not UTF-8 text ({error.reason} at byte {error.start})"
        finding = _file_finding(base, "wrong_encoding", message)
        return ParsedFile(
            **base, status="unreadable", sha256=sha256, rows=empty_rows, findings=finding
        )
    try:
        text, trailer, block = (_read_alder if custodian == "alder" else _read_birch)(content, kind)
    except (UnreadableFile, pl.exceptions.PolarsError) as error:
        finding = _file_finding(base, "unreadable_file", f"{source_file}: {error}")
        return ParsedFile(
            **base, status="unreadable", sha256=sha256, rows=empty_rows, findings=finding
        )
    rows, findings = _typed(text, custodian, kind, base)
    return ParsedFile(
        **base,
        status="ok",
        sha256=sha256,
        rows=rows,
        findings=findings,
        detail_rows=rows.height,
        trailer_rows=trailer[0],
        trailer_checksum=trailer[1],
        computed_checksum=None if block is None else f.trailer_checksum(block),
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


def _read_alder(content: bytes, kind: str) -> tuple[pl.DataFrame, tuple[None, None], None]:
    """Text columns (canonical names) with source_row; alder has no trailer to check."""
    expected = ",".join(f.ALDER_COLUMNS[kind])
    header, _, body = content.partition(b"\n")
    if header.decode().strip() != expected:
        raise UnreadableFile(f"header is not {expected!r}")
    columns = list(f.ALDER_COLUMNS[kind])
    if not body or body.isspace():
        frame = pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    else:
        frame = _read_alder_typed(body, columns)
        if frame is None:
            frame = pl.read_csv(
                body,
                has_header=False,
                new_columns=columns,
                infer_schema=False,
                truncate_ragged_lines=True,
            )
    frame = frame.with_row_index("source_row", offset=2).filter(
        ~pl.all_horizontal(pl.col(columns).is_null())
    )
    return frame, (None, None), None


def _read_alder_typed(body: bytes, columns: list[str]) -> pl.DataFrame | None:
    """The fast path for a clean alder file: numbers and dates parsed by the CSV reader.

    The reader rejects the whole file at the first value that does not parse; the file
    then goes through the text path (None here), which reports every bad value.
    """
    schema = {
        c: pl.Float64 if c in f.NUMBER_COLUMNS else pl.Date if c in f.DATE_COLUMNS else pl.String
        for c in columns
    }
    try:
        return pl.read_csv(body, has_header=False, schema=schema, truncate_ragged_lines=True)
    except pl.exceptions.PolarsError:
        return None


def _read_birch(content: bytes, kind: str) -> tuple[pl.DataFrame, tuple, memoryview]:
    """Text columns (canonical names, sign applied later) with source_row, and the trailer."""
    header = f"H|BIRCH|{f.BIRCH_KIND_CODES[kind]}|"
    if not content.startswith(header.encode()):
        raise UnreadableFile(f"first record is not a {header!r} header")
    fields = f.BIRCH_FIELDS[kind]
    records = pl.read_csv(
        content,
        separator="|",
        has_header=False,
        schema=dict.fromkeys(["RECORD", *fields], pl.String),
        missing_columns="insert",
        extra_columns="ignore",
        truncate_ragged_lines=True,
        quote_char=None,
    ).with_row_index("source_row", offset=1)
    details = (
        records.filter(pl.col("RECORD") == "D")
        .drop("RECORD")
        .with_columns(pl.col("source_row").cast(pl.Int64))
        .rename({k: v for k, v in f.BIRCH_TO_CANONICAL.items() if k in fields})
    )
    end = len(content)
    while end and content[end - 1] == ord("\n"):
        end -= 1
    newline = content.find(b"\n")
    header_end = end if newline < 0 else min(newline + 1, end)
    last_start = content.rfind(b"\n", 0, end) + 1
    last = content[last_start:end].decode().split("|")
    view = memoryview(content)
    if last[0] != "T" or last_start < header_end:  # no trailer (or only the header)
        return details, (None, None), view[header_end:end]
    count = last[1] if len(last) > 1 else ""
    claimed = (int(count) if count.isdigit() else None, last[2] if len(last) > 2 else None)
    return details, claimed, view[header_end : max(header_end, last_start - 1)]


def _typed(
    text: pl.DataFrame, custodian: str, kind: str, base: dict
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Convert text columns to the canonical types; bad values -> null + a finding.

    One pass computes every conversion and a flag column per checked column; findings
    are only built for the columns whose flag is set somewhere.
    """
    conversions, problems = [], []
    for name, dtype in text.schema.items():
        value = pl.col(name)
        if dtype != pl.String:
            continue  # already typed by a fast reader
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
    typed = text.with_columns(
        *conversions,
        *flags,
        custodian=pl.lit(base["custodian"]),
        source_file=pl.lit(base["source_file"]),
    )
    hits = [
        (check, name, typed[f"_bad{i}"])
        for i, (check, name, _) in enumerate(problems)
        if typed[f"_bad{i}"].any()
    ]
    findings = (
        pl.concat([_value_findings(text, check, name, bad, base) for check, name, bad in hits])
        if hits
        else NO_FINDINGS
    )
    return t.conform(typed, KIND_SCHEMAS[kind]), findings


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


def _value_findings(
    text: pl.DataFrame, check: str, column: str, bad: pl.Series, base: dict
) -> pl.DataFrame:
    account = pl.col("account_id") if "account_id" in text.columns else pl.lit(None, pl.String)
    described = "number" if check == "malformed_number" else "date"
    found = text.filter(bad).select(
        "source_row",
        account_ids=pl.concat_list(account).list.drop_nulls(),
        message=pl.format(f"{column} '{{}}' is not a valid {described}", pl.col(column)),
        column=pl.lit(column),
    )
    return _findings(found, check, base)


def _file_finding(base: dict, check: str, message: str) -> pl.DataFrame:
    """A finding about a whole file; load_book scopes it to the custodian's accounts."""
    found = pl.DataFrame(
        {"source_row": [None], "account_ids": [[]], "message": [message], "column": [""]},
        schema={
            "source_row": pl.Int64,
            "account_ids": pl.List(pl.String),
            "message": pl.String,
            "column": pl.String,
        },
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
