"""A custodian added by a firm, without a change to the package: a toy format written
here (semicolon-separated, its own file names), registered by the book's
``firm/custodians.yaml`` as a dotted path, carries some accounts of a small generated
book through the whole date, in memory and through ``rebalance run``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline.generator import GeneratorConfig, generate_book
from rebalance_pipeline.ingest import load_book
from rebalance_pipeline.ingest.custodians import FileReading, UnreadableFile
from rebalance_pipeline.ingest.custodians.adapter import KINDS, ROW_FINDINGS, reading_schema
from rebalance_pipeline.policy import book_policy
from rebalance_pipeline.workflow import run_stages

TOY_ACCOUNTS = 3  # of alder's accounts that trade on the date: the last gets a bad cash value


@dataclasses.dataclass
class ToyAdapter:
    """``toy-<kind>-YYYY-MM-DD.txt``: a line ``#TOY <kind>``, then one record per line,
    the kind's canonical columns in reading_schema order, separated by ``separator``. (A
    dataclass, so neither hashable nor compared by identity.)"""

    separator: str = ";"
    kinds: tuple[str, ...] = KINDS

    def file_name(self, kind: str, day: dt.date) -> str:
        return f"toy-{kind}-{day.isoformat()}.txt"

    def file_date(self, file_name: str) -> dt.date | None:
        match = re.fullmatch(r"toy-[a-z_]+-(\d{4}-\d{2}-\d{2})\.txt", file_name)
        return dt.date.fromisoformat(match.group(1)) if match else None

    def columns(self, kind: str) -> list[str]:
        return [c for c in reading_schema(kind).names() if c != "source_row"]

    def read_files(self, contents, kind, keep=None):
        return [self._read(content, kind) for content in contents]

    def _read(self, content: bytes, kind: str) -> FileReading | UnreadableFile:
        header, *lines = content.decode().removesuffix("\n").split("\n")
        if header != f"#TOY {kind}":
            return UnreadableFile(f"first line is not '#TOY {kind}'")
        columns, schema = self.columns(kind), reading_schema(kind)
        records, findings = [], []
        for line_number, line in enumerate(lines, start=2):
            fields = line.split(self.separator)
            if len(fields) != len(columns):
                message = f"{len(fields)} fields where the layout has {len(columns)}"
                findings.append((line_number, [fields[0]], "malformed_row", message, ""))
                continue
            record = {"source_row": line_number}
            for column, text in zip(columns, fields, strict=True):
                record[column] = self._value(text, schema[column])
                if text and record[column] is None:
                    check = "malformed_date" if schema[column] == pl.Date else "malformed_number"
                    account = [record["account_id"]] if "account_id" in record else []
                    message = f"{column} {text!r} does not convert"
                    findings.append((line_number, account, check, message, column))
            records.append(record)
        return FileReading(
            rows=pl.DataFrame(records, schema=schema),
            row_findings=pl.DataFrame(findings, schema=ROW_FINDINGS, orient="row"),
        )

    @staticmethod
    def _value(text: str, dtype: pl.DataType) -> object:
        if not text:
            return None
        try:
            if dtype == pl.Float64:
                return float(text)
            return dt.date.fromisoformat(text) if dtype == pl.Date else text
        except ValueError:
            return None

    def raw_columns(self, kind: str) -> tuple[str, ...]:
        return tuple(self.columns(kind))

    def raw_records(self, content: bytes, kind: str) -> pl.DataFrame:
        columns = self.columns(kind)
        lines = content.decode().removesuffix("\n").split("\n")[1:]
        rows = [line.split(self.separator) for line in lines]
        return pl.DataFrame(
            {
                **{c: [r[i] if i < len(r) else None for r in rows] for i, c in enumerate(columns)},
                "extra_fields": [self.separator.join(r[len(columns) :]) or None for r in rows],
                "source_row": list(range(2, len(rows) + 2)),
            },
            schema={**dict.fromkeys(columns, pl.String), "extra_fields": pl.String}
            | {"source_row": pl.Int64},
        )

    def detail_rows(self, content: bytes, kind: str) -> int:
        return max(content.count(b"\n") - 1, 0)


def write_toy_file(path: Path, kind: str, rows: pl.DataFrame) -> None:
    """``rows`` (text columns named as the canonical ones) as a toy file."""
    columns = ToyAdapter().columns(kind)
    text = rows.select(pl.col(c) if c in rows.columns else pl.lit(None) for c in columns)
    lines = text.select(pl.concat_str(pl.all().fill_null(""), separator=";")).to_series()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([f"#TOY {kind}", *lines]) + "\n")


def move_to_toy(root: Path, accounts: list[str], bad_cash: str) -> None:
    """The accounts' rows move from alder's files to a toy custodian's; the toy custodian
    sends the same prices and corporate actions; the firm's account list and
    custodians.yaml name it; ``bad_cash`` gets a cash value that is no number."""
    adapter = ToyAdapter()
    for alder_file in sorted((root / "drops").glob("*/alder/*.csv")):
        kind, _, day = alder_file.stem.rpartition("_")
        rows = pl.read_csv(alder_file, infer_schema=False)
        if "account_id" in rows.columns:
            mine = pl.col("account_id").is_in(accounts)
            rows.filter(~mine).write_csv(alder_file)
            rows = rows.filter(mine)
        if kind == "cash":
            rows = rows.with_columns(
                cash=pl.when(pl.col("account_id") == bad_cash)
                .then(pl.lit("12x.50"))
                .otherwise("cash")
            )
        date = dt.datetime.strptime(day, "%Y%m%d").date()
        write_toy_file(alder_file.parents[1] / "toy" / adapter.file_name(kind, date), kind, rows)
    firm = pl.read_csv(root / "firm" / "accounts.csv", infer_schema=False)
    moved = pl.when(pl.col("account_id").is_in(accounts)).then(pl.lit("toy"))
    firm.with_columns(custodian=moved.otherwise("custodian")).write_csv(
        root / "firm" / "accounts.csv"
    )
    (root / "firm" / "custodians.yaml").write_text(
        "custodians:\n"
        "  alder: {adapter: alder_csv}\n"
        "  birch: {adapter: birch_pipe}\n"
        f"  toy: {{adapter: '{ToyAdapter.__module__}:ToyAdapter'}}\n"
    )


@pytest.fixture(scope="module")
def toy_book(tmp_path_factory) -> tuple[Path, dt.date, list[str]]:
    """A small generated book whose date has released trades in alder accounts, three
    of which (two trading, then one with a bad cash value) move to the toy custodian."""
    root = tmp_path_factory.mktemp("toy") / "book"
    config = GeneratorConfig(accounts=40, households=16, days=3, seed=7, fault_rate=0.0)
    generated = generate_book(config, root)
    day = generated.drop_days[-1]
    before = run_stages(load_book(root, day), book_policy(root, day))
    alder = generated.accounts.filter(pl.col("custodian") == "alder")["account_id"]
    traded = before.routing.released_trades["account_id"].unique().sort()
    trading = [a for a in traded if a in set(alder)][: TOY_ACCOUNTS - 1]
    quiet = next(a for a in alder.sort() if a not in set(traded))
    assert len(trading) == TOY_ACCOUNTS - 1, "the generated date trades too few alder accounts"
    move_to_toy(root, [*trading, quiet], bad_cash=quiet)
    return root, day, [*trading, quiet]


def test_a_toy_custodians_accounts_run_through_the_date_in_memory(toy_book):
    root, day, (*trading, bad) = toy_book
    book = load_book(root, day)
    outputs = run_stages(book, book_policy(root, day))
    toy_rows = book.positions.filter(pl.col("custodian") == "toy")
    assert set(toy_rows["account_id"]) == {*trading, bad}
    assert set(toy_rows["source_file"].str.split("/").list.last()) == {
        f"toy-positions-{day.isoformat()}.txt"
    }
    released = outputs.routing.released_trades
    assert set(trading) <= set(released["account_id"])
    finding = outputs.validation.findings.filter(pl.col("custodian") == "toy")
    assert finding.select("check", "account_ids").rows() == [("malformed_number", [bad])]
    routes = dict(outputs.routing.decisions.select("account_id", "route").iter_rows())
    assert routes[bad] == "SUSPENDED"
    assert all(routes[a] != "SUSPENDED" for a in trading)


@pytest.mark.custodian_run
def test_a_toy_custodians_accounts_reach_its_trade_file_through_rebalance_run(toy_book, tmp_path):
    root, day, (*trading, _suspended) = toy_book
    tests = Path(__file__).parent
    env = os.environ | {
        "REBALANCE_HOME": str(tmp_path / "home"),
        "PYTHONPATH": os.pathsep.join([str(tests), str(tests.parent)]),
    }
    env.pop("REBALANCE_BOOK", None)
    cli = Path(sys.executable).parent / "rebalance"
    command = [cli, "run", "--date", day.isoformat(), "--book", root, "--executor", "in_process"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (trade_file,) = (tmp_path / "home" / "trades" / day.isoformat()).rglob("toy_trades_*.csv")
    assert set(pl.read_csv(trade_file)["account_id"]) == set(trading)
