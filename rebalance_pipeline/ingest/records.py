"""A custodian file's records as text: alder's CSV, birch's fixed layout inside its
header/trailer envelope, and the rows whose field count is not their layout's (never cut
to fit). ``parse.py`` types the values and turns all of it into findings.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools

import polars as pl

from rebalance_pipeline.ingest import formats as f

DATE_FORMATS = {"alder": "%Y-%m-%d", "birch": "%m/%d/%Y"}
UTF8_BOM = b"\xef\xbb\xbf"
ACCOUNT = {None: "account_id", "D": "ACCT_NO"}  # the account column of each layout


class UnreadableFile(ValueError):
    """The file decodes but is not a file of the expected custodian and kind."""


def without_transport_artefacts(content: bytes) -> bytes:
    """The file as its custodian wrote it: a UTF-8 byte-order mark and CRLF line ends
    are added in transport (the birch checksum is computed without them)."""
    content = content.removeprefix(UTF8_BOM)
    return content.replace(b"\r\n", b"\n") if b"\r" in content else content


@dataclasses.dataclass(frozen=True)
class Envelope:
    """What a birch file says about itself, around its detail records."""

    header_date: dt.date
    last_line: int  # line number of the last line of the file
    trailer: str | None  # the trailer record as sent (None: the file has none)
    lines_after_trailer: int
    computed_checksum: str  # over the lines between the header and the trailer

    @property
    def _trailer_fields(self) -> list[str]:
        return (self.trailer or "").split("|")

    @property
    def trailer_rows(self) -> int | None:
        fields = self._trailer_fields
        return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None

    @property
    def trailer_checksum(self) -> str | None:
        fields = self._trailer_fields
        return fields[2] if len(fields) > 2 else None


Body = str | pl.DataFrame | None
"""A file's records before they are split: text whose lines are the records, records
already split (source_row, fields), or None (no records)."""
SEPARATORS = {"alder": ",", "birch": "|"}


def read_alder(content: bytes, kind: str) -> tuple[Body, None]:
    """The body of an alder file (the records after its header); alder has no trailer."""
    columns = f.ALDER_COLUMNS[kind]
    header, _, body = content.partition(b"\n")
    if header.decode().strip() != ",".join(columns):
        raise UnreadableFile(f"header is not {','.join(columns)!r}")
    return alder_body(body.decode()), None


def alder_body(body: str) -> Body:
    """An alder file's body (the lines after the header), split by the CSV rules: a quoted
    field may hold a comma. A body without quotes, carriage returns or NULs has one record
    per line (split by Polars, :func:`split_records`); the CSV reader takes the others."""
    if any(special in body for special in ('"', "\r", "\x00")):
        return _csv_records(body)
    return body.removesuffix("\n")


def alder_records(body: str) -> pl.DataFrame:
    """(source_row, fields) of each record of an alder file's body."""
    return split_records([alder_body(body)], "alder").drop("_file")


def split_records(bodies: list[Body], custodian: str, first_line: int = 2) -> pl.DataFrame:
    """(_file, source_row, fields) of the records of every body (``_file``: its index).

    The text bodies are split at line ends and separators in one Polars pass (no Python
    string per line, one pass for many small files), their lines numbered from
    ``first_line``; alder's blank lines are no records (a birch blank line is a record of
    no type).
    """
    texts = pl.DataFrame(
        {
            "_file": range(len(bodies)),
            "fields": [b if isinstance(b, str) else None for b in bodies],
        },
        schema={"_file": pl.Int64, "fields": pl.String},
    ).with_columns(pl.col("fields").str.split("\n"))
    lines_before = pl.col("fields").list.len().fill_null(0).cast(pl.Int64)
    lines = (
        texts.with_columns(_start=lines_before.cum_sum() - lines_before)
        .explode("fields")
        .drop_nulls("fields")
    )
    records = lines.select(
        "_file",
        source_row=pl.int_range(pl.len(), dtype=pl.Int64) - pl.col("_start") + first_line,
        fields=pl.col("fields").str.split(SEPARATORS[custodian]),
    )
    if custodian == "alder":
        blank = (pl.col("fields").list.len() == 1) & (pl.col("fields").list.first() == "")
        records = records.filter(~blank)
    split = [
        body.select(pl.lit(i, pl.Int64).alias("_file"), "source_row", "fields")
        for i, body in enumerate(bodies)
        if isinstance(body, pl.DataFrame)
    ]
    return pl.concat([records, *split]) if split else records


def _csv_records(body: str) -> pl.DataFrame:
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


def field(position: int) -> pl.Expr:
    """The ``position``-th of a record's ``fields``; null when empty or missing."""
    text = pl.col("fields").list.get(position, null_on_oob=True)
    return pl.when(text != "").then(text)


def read_birch(content: bytes, kind: str) -> tuple[Body, Envelope]:
    """The detail records of a birch file (the lines between header and trailer), and
    the envelope: the header's date and whatever stands where the trailer should be."""
    code = f.BIRCH_KIND_CODES[kind]
    text = content.decode().removesuffix("\n")  # the line end of the last line
    header_line, _, rest = text.partition("\n")
    header = header_line.split("|") if text else []
    if header[:3] != ["H", "BIRCH", code] or len(header) != 5:
        raise UnreadableFile(f"first record is not a 'H|BIRCH|{code}|MM/DD/YYYY|<firm>' header")
    try:
        header_date = dt.datetime.strptime(header[3], DATE_FORMATS["birch"]).date()
    except ValueError as error:
        raise UnreadableFile(f"header date {header[3]!r} is not MM/DD/YYYY") from error
    last_line = text.count("\n") + 1
    trailer_start = _first_trailer_start(text)
    if trailer_start is None:
        block, trailer, trailer_line = rest, None, last_line + 1
    else:
        block = text[len(header_line) + 1 : trailer_start - 1]
        trailer = text[trailer_start:].partition("\n")[0]
        trailer_line = text.count("\n", 0, trailer_start) + 1
    envelope = Envelope(
        header_date=header_date,
        last_line=last_line,
        trailer=trailer,
        lines_after_trailer=0 if trailer is None else last_line - trailer_line,
        computed_checksum=f.trailer_checksum(block.encode()),
    )
    return (block if trailer_line > 2 else None), envelope


def _first_trailer_start(text: str) -> int | None:
    """Where the first record of type ``T`` (a line ``T`` or ``T|...``) after the header
    begins; None when there is none."""
    start = text.find("\nT")
    while start >= 0 and text[start + 2 : start + 3] not in ("|", "\n", ""):
        start = text.find("\nT", start + 2)
    return start + 1 if start >= 0 else None


RAGGED = {"account_id": pl.String, "message": pl.String}


def text_columns(
    records: pl.DataFrame, custodian: str, kind: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Text columns (canonical names; birch's sign applied later) of a kind's records,
    and the ragged records (account_id, message): those whose fields do not fit the
    layout, none of whose values can be trusted. Columns of ``records`` besides
    ``fields`` (its line, its file) are kept in both."""
    if custodian == "alder":
        return records_frame(records, f.ALDER_COLUMNS[kind], lead=None)
    fields = f.BIRCH_FIELDS[kind]
    text, ragged = records_frame(records, fields, lead="D")
    return text.rename({k: v for k, v in f.BIRCH_TO_CANONICAL.items() if k in fields}), ragged


def records_frame(
    records: pl.DataFrame, columns: tuple[str, ...], lead: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Text columns of the records (an empty field is null) and the ragged records.

    A record of another width than the layout (or, with ``lead``, another record type)
    is kept with its account only and reported: cutting or padding it to fit would shift
    values into the wrong columns.
    """
    offset = 0 if lead is None else 1  # birch records lead with their record type
    width = len(columns) + offset
    fields = pl.col("fields")
    right_type = pl.lit(True) if lead is None else fields.list.first() == lead
    fits = (fields.list.len() == width) & right_type
    account_column = ACCOUNT[lead]
    kept = [name for name in records.columns if name != "fields"]
    sent = records.select(  # the fields as sent; blanked below (two passes are cheaper)
        *kept,
        *(fields.list.get(i + offset, null_on_oob=True).alias(c) for i, c in enumerate(columns)),
        _fits=fits,
        _right_type=right_type,
    )

    def readable(column: str) -> pl.Expr:
        flag = pl.col("_right_type" if column == account_column else "_fits")
        return pl.when(flag & (pl.col(column) != "")).then(pl.col(column)).alias(column)

    text = sent.select(*kept, *(readable(c) for c in columns))
    misfit = ~sent.get_column("_fits")
    if not misfit.any():
        return text, pl.DataFrame(schema=records.select(kept).schema | RAGGED)
    account = pl.col(account_column) if account_column in columns else pl.lit(None, pl.String)
    messages = [ragged_message(v, width, lead) for v in records.filter(misfit)["fields"].to_list()]
    ragged = text.filter(misfit).select(
        *kept, account.alias("account_id"), message=pl.Series(messages, dtype=pl.String)
    )
    return text, ragged


def ragged_message(fields: list[str], width: int, lead: str | None) -> str:
    if lead is not None and fields[0] != lead:
        return f"record type {fields[0]!r} is not {lead!r}: its values are not read"
    return f"{len(fields)} fields where the layout has {width}: its values are not read"
