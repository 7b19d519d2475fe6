"""A format that carries several kinds in one file (as a Flex statement does): the file is
owed once, and a fault of the file is one finding, not one per kind read from it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline.generator import GeneratorConfig, generate_book
from rebalance_pipeline.ingest import load_book
from rebalance_pipeline.ingest.custodians import FileReading
from rebalance_pipeline.ingest.custodians.adapter import ROW_FINDINGS, reading_schema
from rebalance_pipeline.operations.sensors import owed_files

RECORD_TYPES = {"positions": "P", "cash": "C"}


class PairAdapter:
    """``pair-YYYYMMDD.txt``: a line ``#PAIR <as-of date>``, then ``P;account;symbol;quantity``
    and ``C;account;cash`` records."""

    kinds = ("positions", "cash")

    def file_name(self, kind: str, day: dt.date) -> str:
        return f"pair-{day:%Y%m%d}.txt"

    def file_date(self, file_name: str) -> dt.date | None:
        return dt.datetime.strptime(file_name, "pair-%Y%m%d.txt").date()

    def read_files(self, contents, kind, keep=None):
        return [self._read(content.decode().split("\n"), kind) for content in contents]

    def _read(self, lines: list[str], kind: str) -> FileReading:
        schema = reading_schema(kind)
        columns = [c for c in schema.names() if c != "source_row"]
        records = [
            dict(zip(columns, fields[1:], strict=True)) | {"source_row": number}
            for number, line in enumerate(lines, start=1)
            if (fields := line.split(";"))[0] == RECORD_TYPES[kind]
        ]
        rows = pl.DataFrame(records, schema={c: pl.String for c in schema.names()})
        return FileReading(
            rows=rows.cast(schema),  # type: ignore[arg-type]
            row_findings=pl.DataFrame(schema=ROW_FINDINGS),
            declared_date=dt.date.fromisoformat(lines[0].removeprefix("#PAIR ")),
        )

    def raw_columns(self, kind: str) -> tuple[str, ...]:
        return ("record",)

    def raw_records(self, content: bytes, kind: str) -> pl.DataFrame:
        lines = content.decode().split("\n")
        return pl.DataFrame(
            {"record": lines, "extra_fields": None, "source_row": range(1, len(lines) + 1)},
            schema={"record": pl.String, "extra_fields": pl.String, "source_row": pl.Int64},
        )

    def detail_rows(self, content: bytes, kind: str) -> int:
        return content.count(f"\n{RECORD_TYPES[kind]};".encode())


@pytest.fixture(scope="module")
def pair_book(tmp_path_factory) -> tuple[Path, dt.date, str]:
    """A small generated book with one account moved to a custodian on PairAdapter, whose
    files are not written (a test writes the date's)."""
    root = tmp_path_factory.mktemp("pair") / "book"
    generated = generate_book(
        GeneratorConfig(accounts=12, households=5, days=1, seed=3, fault_rate=0.0), root
    )
    account = generated.accounts["account_id"].sort()[0]
    firm = pl.read_csv(root / "firm" / "accounts.csv", infer_schema=False)
    moved = pl.when(pl.col("account_id") == account).then(pl.lit("pair")).otherwise("custodian")
    firm.with_columns(custodian=moved).write_csv(root / "firm" / "accounts.csv")
    (root / "firm" / "custodians.yaml").write_text(
        "custodians:\n"
        "  alder: {adapter: alder_csv}\n"
        "  birch: {adapter: birch_pipe}\n"
        f"  pair: {{adapter: '{PairAdapter.__module__}:PairAdapter'}}\n"
    )
    return root, generated.drop_days[-1], account


def pair_findings(root: Path, day: dt.date) -> pl.DataFrame:
    findings = load_book(root, day).parse_findings
    return findings.filter(pl.col("custodian") == "pair").select("check", "account_ids")


def test_a_missing_file_of_two_kinds_is_owed_once_and_one_finding(pair_book):
    root, day, account = pair_book
    path = root / "drops" / day.isoformat() / "pair" / f"pair-{day:%Y%m%d}.txt"
    path.unlink(missing_ok=True)
    assert [p for p in owed_files(root, day) if "/pair/" in p] == [
        path.relative_to(root).as_posix()
    ]
    assert pair_findings(root, day).rows() == [("missing_file", [account])]


def test_a_stale_file_of_two_kinds_is_one_finding(pair_book):
    root, day, account = pair_book
    path = root / "drops" / day.isoformat() / "pair" / f"pair-{day:%Y%m%d}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#PAIR {day - dt.timedelta(days=1)}\nP;{account};AAA;1.0\nC;{account};10.0")
    assert pair_findings(root, day).rows() == [("stale_file", [account])]
    sent = load_book(root, day).source_files.filter(pl.col("custodian") == "pair")
    assert sent.select("kind", "detail_rows").rows() == [("positions", 1), ("cash", 1)]


def test_an_adapter_that_fails_on_a_file_is_a_finding_of_its_custodian_not_a_crash(pair_book):
    """PairAdapter raises on a header date that is no date: a bug of a firm's adapter
    suspends that custodian's accounts and names the file, the date still runs."""
    root, day, account = pair_book
    path = root / "drops" / day.isoformat() / "pair" / f"pair-{day:%Y%m%d}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#PAIR yesterday\nP;{account};AAA;1.0\nC;{account};10.0")
    found = load_book(root, day).parse_findings.filter(pl.col("custodian") == "pair")
    assert found.select("check", "account_ids").rows() == [("adapter_error", [account])]
    assert "PairAdapter" in found["message"][0] and "yesterday" in found["message"][0]
