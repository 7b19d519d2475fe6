"""firm/custodians.yaml: a book's custodians and their adapters, and the one clear line
a file that cannot be used gives (a book whose custodian list cannot be read cannot run
a date)."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import EntryPoint
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from rebalance_pipeline.cli import app
from rebalance_pipeline.generator import GeneratorConfig, generate_book
from rebalance_pipeline.ingest import custodians, load_book
from rebalance_pipeline.ingest.custodians import CustodiansError, book_custodians
from rebalance_pipeline.ingest.custodians.alder import AlderCsv
from rebalance_pipeline.ingest.custodians.birch import BirchPipe
from rebalance_pipeline.policy import book_policy
from rebalance_pipeline.workflow import run_stages


def book_with(tmp_path: Path, text: str) -> Path:
    (tmp_path / "firm").mkdir()
    (tmp_path / "firm" / "custodians.yaml").write_text(text)
    return tmp_path


def test_a_book_without_the_file_has_alder_and_birch(tmp_path):
    (tmp_path / "firm").mkdir()
    found = book_custodians(tmp_path)
    assert [(c.name, type(c.adapter)) for c in found] == [("alder", AlderCsv), ("birch", BirchPipe)]


def test_the_file_names_custodians_in_its_order_by_built_in_dotted_path_or_entry_point(
    tmp_path, monkeypatch
):
    point = EntryPoint(
        "pipes",
        "rebalance_pipeline.ingest.custodians.birch:BirchPipe",
        custodians.ENTRY_POINT_GROUP,
    )
    monkeypatch.setattr(
        custodians,
        "entry_points",
        lambda group, name: [point] if (group, name) == (point.group, point.name) else [],
    )
    book = book_with(
        tmp_path,
        "custodians:\n"
        "  cedar: {adapter: pipes}\n"
        "  alder: {adapter: alder_csv}\n"
        "  elm: {adapter: 'rebalance_pipeline.ingest.custodians.alder:AlderCsv'}\n",
    )
    found = book_custodians(book)
    assert [(c.name, type(c.adapter)) for c in found] == [
        ("cedar", BirchPipe),
        ("alder", AlderCsv),
        ("elm", AlderCsv),
    ]
    assert (
        found[0].drop_path("cash", dt.date(2026, 3, 16)) == "drops/2026-03-16/cedar/CASH.260316.dat"
    )


UNUSABLE = {
    "unknown adapter": (
        "custodians:\n  alder: {adapter: alder_xml}\n",
        "custodian 'alder': adapter 'alder_xml' is not built in",
    ),
    "unimportable module": (
        "custodians:\n  alder: {adapter: 'no_such_module:Adapter'}\n",
        "cannot import 'no_such_module'",
    ),
    "no such attribute": (
        "custodians:\n  alder: {adapter: 'rebalance_pipeline.ingest:Nothing'}\n",
        "has no 'Nothing'",
    ),
    "not an adapter": (
        "custodians:\n  alder: {adapter: 'rebalance_pipeline.tables:LOTS'}\n",
        "is not a custodian adapter",
    ),
    "bad YAML": ("custodians:\n  alder: {adapter: alder_csv\n", "not readable YAML"),
    "misspelt key": (
        "custodians:\n  alder: {adaptor: alder_csv}\n",
        "custodians.alder.adapter: Field required",
    ),
    "no custodian": ("custodians: {}\n", "custodians: Dictionary should have at least 1 item"),
    "a name that is no folder": (
        "custodians:\n  ../x: {adapter: alder_csv}\n",
        "custodian '../x': a name is lower-case",
    ),
}


@pytest.mark.parametrize(("text", "fault"), UNUSABLE.values(), ids=UNUSABLE.keys())
def test_a_file_that_cannot_be_used_is_one_line_naming_the_file_and_entry(tmp_path, text, fault):
    book = book_with(tmp_path, text)
    with pytest.raises(CustodiansError) as raised:
        book_custodians(book)
    message = str(raised.value)
    assert message.startswith(f"custodians file {book / 'firm' / 'custodians.yaml'}: ")
    assert fault in message
    assert "\n" not in message


def test_rebalance_run_of_a_book_whose_custodians_cannot_be_read_stops_with_that_line(tmp_path):
    book = book_with(tmp_path, "custodians:\n  alder: {adapter: alder_xml}\n")
    (book / "drops" / "2026-03-16").mkdir(parents=True)
    result = CliRunner().invoke(app, ["run", "--date", "2026-03-16", "--book", str(book)])
    assert result.exit_code != 0
    assert "adapter 'alder_xml' is not built in" in result.output
    assert "Traceback" not in result.output


def test_an_account_at_a_custodian_the_book_does_not_list_is_suspended(tmp_path):
    """Its files are never read: optimizing it would trade an account as if it held
    nothing."""
    root = tmp_path / "book"
    generated = generate_book(
        GeneratorConfig(accounts=12, households=5, days=1, seed=3, fault_rate=0.0), root
    )
    account = generated.accounts.filter(pl.col("custodian") == "alder")["account_id"].min()
    for path in (root / "drops").glob("*/alder/*.csv"):
        rows = pl.read_csv(path, infer_schema=False)
        if "account_id" in rows.columns:
            rows.filter(pl.col("account_id") != account).write_csv(path)
    firm = pl.read_csv(root / "firm" / "accounts.csv", infer_schema=False)
    oak = pl.when(pl.col("account_id") == account).then(pl.lit("oak")).otherwise("custodian")
    firm.with_columns(custodian=oak).write_csv(root / "firm" / "accounts.csv")
    day = generated.drop_days[-1]
    outputs = run_stages(load_book(root, day), book_policy(root, day))
    found = outputs.validation.findings.filter(pl.col("account_ids").list.contains(account))
    assert found.select("check", "severity", "account_ids").rows() == [
        ("unknown_custodian", "error", [account])
    ]
    assert "'oak'" in found["message"][0]
    routes = outputs.routing.decisions.filter(pl.col("account_id") == account)
    assert routes["route"].to_list() == ["SUSPENDED"]
