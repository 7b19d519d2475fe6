"""A book with a third custodian in Interactive Brokers Flex Query XML, through the date."""

from __future__ import annotations

import polars as pl
import pytest

from rebalance_pipeline.generator import GeneratorConfig, generate_book
from rebalance_pipeline.ingest import load_book
from rebalance_pipeline.policy import book_policy
from rebalance_pipeline.workflow import run_stages

CONFIG = GeneratorConfig(
    accounts=60,
    households=24,
    days=3,
    seed=7,
    fault_rate=0.0,
    custodians=("alder", "birch", "cedar"),
)


@pytest.fixture(scope="module")
def flex_date(tmp_path_factory):
    root = tmp_path_factory.mktemp("flex") / "book"
    generated = generate_book(CONFIG, root)
    day = generated.drop_days[-1]
    book = load_book(root, day)
    cedar = set(generated.accounts.filter(pl.col("custodian") == "cedar")["account_id"])
    return book, run_stages(book, book_policy(root, day)), cedar


def test_the_flex_custodians_holdings_are_read_from_its_statements(flex_date):
    book, _, cedar = flex_date
    assert cedar, "no account at the Flex custodian"
    for table in (book.positions, book.lots, book.cash_balances):
        rows = table.filter(pl.col("custodian") == "cedar")
        assert set(rows["account_id"]) == cedar
        assert set(rows["source_file"].str.extract(r"/cedar/(.*)$")) == {
            f"rebalance_daily.{book.as_of:%Y%m%d}.xml"
        }
    lots = book.lots.filter(pl.col("custodian") == "cedar")
    assert lots["cost_basis"].is_not_null().all() and lots["acquired_date"].is_not_null().all()
    assert book.parse_findings.is_empty()


def test_the_flex_custodians_accounts_run_through_every_stage(flex_date):
    _, outputs, cedar = flex_date
    assert outputs.validation.findings.filter(pl.col("custodian") == "cedar").is_empty()
    routes = dict(outputs.routing.decisions.select("account_id", "route").iter_rows())
    assert all(routes[a] != "SUSPENDED" for a in cedar)
    released = outputs.routing.released_trades.filter(pl.col("account_id").is_in(list(cedar)))
    assert not released.is_empty(), "no Flex account traded on the date"
