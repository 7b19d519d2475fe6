"""What the line-per-record text formats share (alder's CSV, birch's pipe records): files
split into records at line ends and separators, records laid out as named fields, the
rows whose field count is not their layout's (never cut to fit), and the typing of the
text values with a finding for each one that does not convert.

A format is a :class:`TextRecordsFormat` that names its files, finds the detail records
of a file (``read_body``), lays them out and says how it writes numbers and codes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.ingest.custodians.adapter import (
    DATE_COLUMNS,
    KINDS,
    NUMBER_COLUMNS,
    ROW_FINDINGS,
    FileReading,
    UnreadableFile,
    reading_schema,
)

Body = str | pl.DataFrame | None
"""A file's records before they are split: text whose lines are the records, records
already split (source_row, fields), or None (no records)."""
EXTRA = "extra_fields"  # the fields of a record beyond its layout, as sent
RAGGED = {"account_id": pl.String, "message": pl.String}


@dataclasses.dataclass(frozen=True)
class Layout:
    """The fields of a kind's detail records, in file order."""

    fields: tuple[str, ...]  # after the record type, when records lead with one
    account: str  # the field naming the record's account
    lead: str | None = None  # the record type every detail record leads with
    canonical: Mapping[str, str] = dataclasses.field(default_factory=dict)  # field -> column


class TextRecordsFormat:
    """A custodian adapter (adapter.CustodianAdapter) for a format of one record per
    line; the records of many files are typed in one Polars pass."""

    kinds: tuple[str, ...] = KINDS
    separator: str
    date_format: str  # of every date value
    file_date_pattern: str  # a regex whose one group is the file name's date ...
    file_date_format: str  # ... in this strptime format
    blank_lines_are_records: bool = True

    def file_name(self, kind: str, day: dt.date) -> str:
        raise NotImplementedError

    def layout(self, kind: str) -> Layout:
        raise NotImplementedError

    def read_body(self, content: bytes, kind: str) -> tuple[Body, object]:
        """The detail records of a file and what the format reads around them (passed
        to :meth:`file_facts`); raises UnreadableFile."""
        raise NotImplementedError

    def file_facts(self, envelope: object, details: int) -> dict:
        """FileReading fields of what a file says about itself (none by default)."""
        return {}

    def number(self, value: pl.Expr, column: str) -> tuple[pl.Expr, pl.Expr]:
        """(parsed value, is valid) of a number column."""
        parsed = value.cast(pl.Float64, strict=False)
        return parsed, parsed.is_not_null()

    def decoded(self, value: pl.Expr, column: str) -> pl.Expr | None:
        """A text column in canonical notation (None: as sent)."""
        return None

    def raw_lines(self, text: str) -> pl.DataFrame:
        """(source_row, fields) of every record of a file, for the raw table."""
        raise NotImplementedError

    def file_date(self, file_name: str) -> dt.date | None:
        match = re.search(self.file_date_pattern, file_name)
        if match is None:
            return None
        try:
            return dt.datetime.strptime(match.group(1), self.file_date_format).date()
        except ValueError:
            return None

    def raw_columns(self, kind: str) -> tuple[str, ...]:
        layout = self.layout(kind)
        return layout.fields if layout.lead is None else ("RECORD", *layout.fields)

    def raw_records(self, content: bytes, kind: str) -> pl.DataFrame:
        """Every record as text with its line number. Fields beyond the layout are kept,
        joined, in ``extra_fields``; a record short of fields has the missing ones null."""
        columns = self.raw_columns(kind)
        extra = pl.col("fields").list.slice(len(columns)).list.join(self.separator)
        return self.raw_lines(content.decode()).select(
            *(field(i).alias(column) for i, column in enumerate(columns)),
            pl.when(extra != "").then(extra).alias(EXTRA),
            "source_row",
        )

    def split_records(
        self, bodies: list[Body], first_line: int = 2, lines_kept: pl.Expr | None = None
    ) -> pl.DataFrame:
        """(_file, source_row, fields) of the records of every body (``_file``: its index).

        The text bodies are split at line ends and separators in one Polars pass (no
        Python string per line, one pass for many small files), their lines numbered
        from ``first_line``. ``lines_kept`` (on the line's text, column ``fields``) leaves
        out the other lines of text bodies before they are split into fields.
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
        numbered = lines.select(
            "_file",
            "fields",
            source_row=pl.int_range(pl.len(), dtype=pl.Int64) - pl.col("_start") + first_line,
        )
        if lines_kept is not None:
            numbered = numbered.filter(lines_kept)
        records = numbered.select(
            "_file", "source_row", fields=pl.col("fields").str.split(self.separator)
        )
        if not self.blank_lines_are_records:
            blank = (pl.col("fields").list.len() == 1) & (pl.col("fields").list.first() == "")
            records = records.filter(~blank)
        split = [
            body.select(pl.lit(i, pl.Int64).alias("_file"), "source_row", "fields")
            for i, body in enumerate(bodies)
            if isinstance(body, pl.DataFrame)
        ]
        return pl.concat([records, *split]) if split else records

    def read_files(
        self, contents: list[bytes], kind: str, keep: pl.DataFrame | None = None
    ) -> list[FileReading | UnreadableFile]:
        read: list[tuple[Body, object] | UnreadableFile] = []
        for content in contents:
            try:
                read.append(self.read_body(content, kind))
            except UnreadableFile as error:
                read.append(error)
        bodies = [file for file in read if not isinstance(file, UnreadableFile)]
        typed = iter(self._typed_files(bodies, kind, keep))
        return [file if isinstance(file, UnreadableFile) else next(typed) for file in read]

    def _typed_files(
        self, files: list[tuple[Body, object]], kind: str, keep: pl.DataFrame | None
    ) -> list[FileReading]:
        """The reading of each file: the records of all ``files`` (with ``keep``, only
        those whose ``keep`` columns match a row of it) converted to the canonical types
        in one pass; bad values -> null + a finding.

        One pass computes every conversion and a flag column per checked column;
        findings are only built for the columns whose flag is set somewhere.
        """
        if not files:
            return []
        lines_kept = None if keep is None else self._may_match(keep)
        records = self.split_records([body for body, _ in files], lines_kept=lines_kept)
        text, ragged = self._text_columns(records, kind)
        if keep is not None:
            text = text.join(keep, on=keep.columns, how="semi", maintain_order="left")
        conversions, problems = [], []
        for name in text.columns:
            value = pl.col(name)
            if name in NUMBER_COLUMNS:
                parsed, valid = self.number(value, name)
                conversions.append(pl.when(valid).then(parsed).alias(name))
                problems.append(("malformed_number", name, value.is_not_null() & ~valid))
            elif name in DATE_COLUMNS:
                parsed = self._date(text, name)
                conversions.append(parsed.alias(name))
                problems.append(("malformed_date", name, value.is_not_null() & parsed.is_null()))
            elif (decoded := self.decoded(value, name)) is not None:
                conversions.append(decoded.alias(name))
        flags = [bad.fill_null(False).alias(f"_bad{i}") for i, (_, _, bad) in enumerate(problems)]
        typed = text.with_columns(*conversions, *flags)
        count = len(files)
        rows = _by_file(
            t.conform(typed, reading_schema(kind)).with_columns(typed.get_column("_file")), count
        )
        found: list[list[pl.DataFrame]] = [[] for _ in files]
        for i, (check, name, _) in enumerate(problems):
            bad = typed.get_column(f"_bad{i}")
            if bad.any():
                _add_by_file(found, _value_findings(text.filter(bad), check, name))
        if not ragged.is_empty():
            _add_by_file(found, _malformed_rows(ragged))
        return [
            FileReading(
                rows=file_rows,
                row_findings=pl.concat(file_found) if file_found else t.empty(ROW_FINDINGS),
                **self.file_facts(envelope, file_rows.height),
            )
            for file_rows, file_found, (_, envelope) in zip(rows, found, files, strict=True)
        ]

    def _may_match(self, keep: pl.DataFrame) -> pl.Expr:
        """Whether a record's line may match a row of ``keep``: it holds one of the values
        of each text column of ``keep`` that the format sends as is (not ``decoded``).
        Every line that matches passes; the few others that pass are dropped once typed."""
        kept = pl.lit(True)
        for name, dtype in keep.schema.items():
            if dtype == pl.String and self.decoded(pl.col(name), name) is None:
                values = keep.get_column(name).drop_nulls().unique().sort().implode()
                kept = kept & pl.col("fields").str.contains_any(pl.lit(values))
        return kept

    def _text_columns(self, records: pl.DataFrame, kind: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Text columns (canonical names) of a kind's records, and the ragged records
        (account_id, message): those whose fields do not fit the layout, none of whose
        values can be trusted. Columns of ``records`` besides ``fields`` are kept in both.

        A record of another width than the layout (or of another record type) is kept
        with its account only and reported: cutting or padding it to fit would shift
        values into the wrong columns.
        """
        layout = self.layout(kind)
        offset = 0 if layout.lead is None else 1
        width = len(layout.fields) + offset
        fields = pl.col("fields")
        right_type = pl.lit(True) if layout.lead is None else fields.list.first() == layout.lead
        fits = (fields.list.len() == width) & right_type
        kept = [name for name in records.columns if name != "fields"]
        sent = records.select(  # the fields as sent; blanked below (two passes are cheaper)
            *kept,
            *(
                fields.list.get(i + offset, null_on_oob=True).alias(c)
                for i, c in enumerate(layout.fields)
            ),
            _fits=fits,
            _right_type=right_type,
        )

        def readable(column: str) -> pl.Expr:
            flag = pl.col("_right_type" if column == layout.account else "_fits")
            return pl.when(flag & (pl.col(column) != "")).then(pl.col(column)).alias(column)

        text = sent.select(*kept, *(readable(c) for c in layout.fields))
        misfit = ~sent.get_column("_fits")
        renamed = {k: v for k, v in layout.canonical.items() if k in layout.fields}
        if not misfit.any():
            return text.rename(renamed), pl.DataFrame(schema=records.select(kept).schema | RAGGED)
        account = pl.col(layout.account) if layout.account in layout.fields else pl.lit(None)
        messages = [
            _ragged_message(v, width, layout.lead)
            for v in records.filter(misfit)["fields"].to_list()
        ]
        ragged = text.filter(misfit).select(
            *kept,
            account.cast(pl.String).alias("account_id"),
            message=pl.Series(messages, dtype=pl.String),
        )
        return text.rename(renamed), ragged

    def _date(self, text: pl.DataFrame, name: str) -> pl.Expr:
        """Parsed dates; each distinct text is parsed once (a file repeats few dates)."""
        distinct = text.get_column(name).drop_nulls().unique()
        parsed = distinct.str.strptime(pl.Date, self.date_format, strict=False)
        return pl.col(name).replace_strict(distinct, parsed, default=None, return_dtype=pl.Date)


def field(position: int) -> pl.Expr:
    """The ``position``-th of a record's ``fields``; null when empty or missing."""
    text = pl.col("fields").list.get(position, null_on_oob=True)
    return pl.when(text != "").then(text)


def _ragged_message(fields: list[str], width: int, lead: str | None) -> str:
    if lead is not None and fields[0] != lead:
        return f"record type {fields[0]!r} is not {lead!r}: its values are not read"
    return f"{len(fields)} fields where the layout has {width}: its values are not read"


def _by_file(frame: pl.DataFrame, files: int) -> list[pl.DataFrame]:
    """``frame``'s rows of each file 0 .. files - 1 (column ``_file``), in their order."""
    if files == 1:
        return [frame.drop("_file")]
    parts = frame.partition_by("_file", as_dict=True, include_key=False, maintain_order=True)
    empty = frame.clear().drop("_file")
    return [parts.get((i,), empty) for i in range(files)]


def _add_by_file(found: list[list[pl.DataFrame]], findings: pl.DataFrame) -> None:
    """Append each file's part of ``findings`` (column ``_file``) to its list."""
    for part, found_in_file in zip(_by_file(findings, len(found)), found, strict=True):
        if not part.is_empty():
            found_in_file.append(part)


def _value_findings(text: pl.DataFrame, check: str, column: str) -> pl.DataFrame:
    """ROW_FINDINGS (with ``_file``) of the bad values in ``text``."""
    account = pl.col("account_id") if "account_id" in text.columns else pl.lit(None, pl.String)
    described = "number" if check == "malformed_number" else "date"
    return text.select(
        "_file",
        "source_row",
        account_ids=pl.concat_list(account).list.drop_nulls(),
        check=pl.lit(check),
        message=pl.format(f"{column} '{{}}' is not a valid {described}", pl.col(column)),
        column=pl.lit(column),
    )


def _malformed_rows(ragged: pl.DataFrame) -> pl.DataFrame:
    """ROW_FINDINGS (with ``_file``) of the records that do not fit their layout."""
    return ragged.select(
        "_file",
        "source_row",
        account_ids=pl.concat_list("account_id").list.drop_nulls(),
        check=pl.lit("malformed_row"),
        message="message",
        column=pl.lit(""),
    )
