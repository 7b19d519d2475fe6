"""Properties of both custodian parsers (hypothesis): any bytes give rows or findings and
never an exception; a valid file rendered by the generator parses back to its rows; files
parsed together give what each gives alone."""

from __future__ import annotations

import datetime as dt
import string
from pathlib import Path

import builtin_custodians as f
import polars as pl
from builtin_custodians import detail_lines, file_bytes, to_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalance_pipeline import tables as t
from rebalance_pipeline.generator.render import DECIMALS, MARK
from rebalance_pipeline.ingest.custodians import adapter
from rebalance_pipeline.ingest.custodians import alder as alder_csv
from rebalance_pipeline.ingest.custodians import birch as birch_pipe
from rebalance_pipeline.ingest.custodians.adapter import KIND_SCHEMAS
from rebalance_pipeline.ingest.parse import ParsedFile, parse_file, parse_files

DAY = dt.date(2026, 3, 16)
BOUNDED = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FILES = st.tuples(st.sampled_from(f.CUSTODIANS), st.sampled_from(adapter.KINDS))
# bytes that mean something to one parser or the other
SIGNIFICANT = [b",", b"|", b"\n", b"\r\n", b'"', b"-", b"+", b".", b"0", b"9", b"D|", b"T|"]
SIGNIFICANT += [b"H|BIRCH|", b"\xef\xbb\xbf", b"\xff", b"\x00", b" ", b"1,001,403.67"]
# columns the custodians leave empty on some rows
NULLABLE = {"realized_gain", "lot_id", "new_symbol", "ratio", "symbol", "quantity", "price"}
NONNEGATIVE = {"price", "close", "ratio"}


def _write(root: Path, custodian: str, kind: str, content: bytes, day: dt.date = DAY) -> Path:
    path = root / f.drop_path(custodian, kind, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _rendered(custodian: str, kind: str, frame: pl.DataFrame) -> bytes:
    text = to_text(custodian, kind, frame.with_columns(pl.lit(None, pl.String).alias(MARK)))
    return file_bytes(custodian, kind, DAY, detail_lines(custodian, text))


def _identifier(alphabet: str = string.ascii_uppercase + string.digits) -> st.SearchStrategy:
    return st.text(alphabet, min_size=1, max_size=8)


def _symbol() -> st.SearchStrategy:
    """Ticker symbols, some with a share-class suffix (``BRK.B``)."""
    return st.builds(
        lambda base, suffix: base + (f".{suffix}" if suffix else ""),
        _identifier(string.ascii_uppercase),
        st.sampled_from(["", "A", "B"]),
    )


def _value(column: str) -> st.SearchStrategy:
    """A value of a canonical column as the custodians send it (fixed decimals)."""
    if column in adapter.NUMBER_COLUMNS:
        scale = 10 ** DECIMALS[column]
        low = 0 if column in NONNEGATIVE else -(10**12)
        return st.integers(low, 10**12).map(lambda n: n / scale)
    if column in adapter.DATE_COLUMNS:
        if column == "price_date":
            return st.just(DAY)  # a price file's closes are of its own day
        return st.dates(dt.date(1990, 1, 1), DAY)
    if column == "type":
        return st.sampled_from(sorted(birch_pipe.TRANSACTION_CODES))
    if column == "action":
        return st.sampled_from(sorted(birch_pipe.ACTION_CODES))
    if column in ("symbol", "new_symbol"):
        return _symbol()
    return _identifier()


def _cell(column: str) -> st.SearchStrategy:
    value = _value(column)
    return st.one_of(st.none(), value) if column in NULLABLE else value


@st.composite
def frames(draw, kind: str) -> pl.DataFrame:
    """Up to 12 rows of a kind's file, in its canonical columns."""
    columns = alder_csv.COLUMNS[kind]
    rows = draw(st.lists(st.fixed_dictionaries({c: _cell(c) for c in columns}), max_size=12))
    return pl.DataFrame(rows, schema={c: KIND_SCHEMAS[kind][c] for c in columns})


@st.composite
def valid_files(draw) -> tuple[str, str, pl.DataFrame]:
    custodian, kind = draw(FILES)
    return custodian, kind, draw(frames(kind))


@st.composite
def hostile_bytes(draw) -> tuple[str, str, bytes]:
    """Anything: random bytes, or a valid file with bytes inserted, deleted or replaced."""
    custodian, kind = draw(FILES)
    if draw(st.booleans()):
        return custodian, kind, draw(st.binary(max_size=400))
    content = bytearray(_rendered(custodian, kind, draw(frames(kind))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(content)))
        piece = draw(st.one_of(st.sampled_from(SIGNIFICANT), st.binary(min_size=1, max_size=3)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        if edit == "insert":
            content[at:at] = piece
        elif edit == "delete":
            del content[at : at + draw(st.integers(1, 20))]
        else:
            content[at : at + len(piece)] = piece
    return custodian, kind, bytes(content)


@BOUNDED
@given(hostile_bytes())
def test_any_bytes_give_rows_or_findings_never_an_exception(tmp_path, case):
    custodian, kind, content = case
    parsed = parse_file(
        _write(tmp_path, custodian, kind, content), f.CUSTODIAN[custodian], kind, root=tmp_path
    )
    assert parsed.rows.schema == KIND_SCHEMAS[kind]
    assert parsed.findings.schema == t.FINDINGS
    assert parsed.status in ("ok", "unreadable")
    if parsed.status != "ok":
        assert parsed.rows.is_empty() and not parsed.findings.is_empty()
    assert parsed.findings["message"].null_count() == 0


@BOUNDED
@given(valid_files())
def test_a_rendered_file_parses_back_to_its_rows(tmp_path, case):
    custodian, kind, frame = case
    content = _rendered(custodian, kind, frame)
    parsed = parse_file(
        _write(tmp_path, custodian, kind, content), f.CUSTODIAN[custodian], kind, root=tmp_path
    )
    assert parsed.status == "ok"
    assert parsed.findings.is_empty(), parsed.findings["message"].to_list()
    assert parsed.rows.select(frame.columns).equals(frame)
    assert parsed.rows["source_row"].to_list() == list(range(2, 2 + frame.height))


@st.composite
def batches(draw) -> tuple[str, str, list[bytes | None]]:
    """Files of one custodian and kind, each valid, hostile or not delivered (None)."""
    custodian, kind = draw(FILES)
    valid = frames(kind).map(lambda frame: _rendered(custodian, kind, frame))
    hostile = hostile_bytes().map(lambda case: case[2])
    contents = st.one_of(valid, hostile, st.none())
    return custodian, kind, draw(st.lists(contents, min_size=1, max_size=5))


def _same_parse(together: ParsedFile, alone: ParsedFile) -> bool:
    frames_equal = all(
        getattr(together, name).equals(getattr(alone, name))
        and getattr(together, name).schema == getattr(alone, name).schema
        for name in ("rows", "findings")
    )
    others = [n for n in ParsedFile.__dataclass_fields__ if n not in ("rows", "findings")]
    return frames_equal and all(getattr(together, n) == getattr(alone, n) for n in others)


@BOUNDED
@given(batches())
def test_files_parsed_together_give_what_each_gives_alone(tmp_path, case):
    custodian, kind, contents = case
    paths = []
    for offset, content in enumerate(contents):
        day = DAY - dt.timedelta(days=offset)
        if content is None:
            paths.append(tmp_path / f.drop_path(custodian, kind, day))
        else:
            paths.append(_write(tmp_path, custodian, kind, content, day))
    together = parse_files(paths, f.CUSTODIAN[custodian], kind, root=tmp_path)
    alone = [parse_file(path, f.CUSTODIAN[custodian], kind, root=tmp_path) for path in paths]
    assert all(_same_parse(*pair) for pair in zip(together, alone, strict=True))


@BOUNDED
@given(st.text(alphabet="A1.-, \n\x1f\x01é", max_size=200))
def test_alder_lines_split_by_polars_as_the_csv_reader_splits_them(body):
    """The Polars splitter (bodies without quotes, carriage returns or NULs) and the CSV
    reader (the others) give the same records."""
    from rebalance_pipeline.ingest.custodians.alder import AlderCsv, csv_records

    assert AlderCsv().raw_lines("header\n" + body).equals(csv_records(body))
