"""Through the Dagster job on a small generated book: a faulty optimizer's violating
trades are withheld, reported by ``proposal_compliance`` and never reach a trade file;
if withholding itself failed, the blocking ``release_compliance`` stops the trade files."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from builtin_custodians import SAMPLE_CUSTODIANS
from faults import faulty_optimizer, trade_row

from rebalance_pipeline import storage
from rebalance_pipeline.compliance import stage
from rebalance_pipeline.generator import GeneratorConfig, generate_book
from rebalance_pipeline.optimization import shards
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.routing.route import TRADING_ROUTES

pytestmark = pytest.mark.slow

# the custodians the process's definitions were loaded with (the sample book's)
BOOK = GeneratorConfig(
    accounts=12,
    households=5,
    days=1,
    warmup_days=3,
    seed=5,
    fault_rate=0.0,
    custodians=SAMPLE_CUSTODIANS,
)
INJECTED_RULES = {"sell_lot": 1, "short_position": 1, "negative_cash": 1}


class Injector:
    """Picks two accounts of the shard and breaks rules in them: one sells a lot held at a
    gain beyond the whole position (sell_lot, short_position), the other buys twice its
    value of a security it may buy (negative_cash) in a group its household does not
    sell today (no wash sale). Held accounts are left alone (routing would hold them), and
    so are accounts with a mandate (routing would see the proposal does not serve it)."""

    def __init__(self, held: set[str]) -> None:
        self.held = held
        self.accounts: list[str] = []

    def __call__(self, problems: list[AccountProblem], trades: pl.DataFrame) -> list[dict]:
        free = [p for p in problems if p.account_id not in self.held and not p.mandates]
        seller = next(p for p in free if self._gain_lot(p) is not None)
        buyer = next(p for p in free if p is not seller and self._buyable(p, problems, trades))
        self.accounts = sorted([seller.account_id, buyer.account_id])
        return [self._oversell(seller), self._overspend(buyer, problems, trades)]

    @staticmethod
    def _gain_lot(p: AccountProblem) -> int | None:
        if p.cash < p.required_cash:
            return None
        gains = p.lot_quantities * p.prices[p.lot_security] - p.lot_cost_basis
        halted = p.halted[p.lot_security]
        lots = [i for i, gain in enumerate(gains) if gain > 0 and not halted[i]]
        return lots[0] if lots else None

    def _oversell(self, p: AccountProblem) -> dict[str, Any]:
        lot = self._gain_lot(p)
        security = int(p.lot_security[lot])
        quantity = float(p.quantities[security]) + 1
        price = float(p.prices[security])
        return trade_row(
            p.account_id, p.security_ids[security], "sell", quantity, price, p.lot_ids[lot]
        )

    def _buyable(self, p: AccountProblem, problems, trades) -> int | None:
        sold = self._groups_sold_today(p.household_id, problems, trades)
        allowed = [
            i
            for i, group in enumerate(p.identical_groups)
            if not (p.halted[i] or p.restricted[i] or p.buy_blocked[i]) and group not in sold
        ]
        return allowed[0] if allowed else None

    def _overspend(self, p: AccountProblem, problems, trades) -> dict[str, Any]:
        i = self._buyable(p, problems, trades)
        price = float(p.prices[i])
        quantity = math.ceil(2 * p.total_value / price)
        return trade_row(p.account_id, p.security_ids[i], "buy", quantity, price)

    @staticmethod
    def _groups_sold_today(household: str, problems, trades: pl.DataFrame) -> set[str]:
        members = [p.account_id for p in problems if p.household_id == household]
        group_of = {
            s: g for p in problems for s, g in zip(p.security_ids, p.identical_groups, strict=True)
        }
        sold = trades.filter(pl.col("account_id").is_in(members) & (pl.col("side") == "sell"))
        return {group_of[s] for s in sold["security_id"]}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp("compliance_book")
    generated = generate_book(BOOK, root)
    return root, generated.drop_days[-1]


def run(day, selection: list[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult:
    from rebalance_pipeline.definitions import defs

    return defs.resolve_job_def("daily_rebalance").execute_in_process(
        partition_key=day.isoformat(), asset_selection=selection, raise_on_error=False
    )


@pytest.fixture(scope="module")
def faulty_run(book, tmp_path_factory):
    root, day = book
    home = tmp_path_factory.mktemp("compliance_home")
    held = set(pl.read_csv(root / "firm" / "holds.csv", infer_schema=False)["account_id"])
    injector = Injector(held)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REBALANCE_HOME", str(home))
        patch.setenv("REBALANCE_BOOK", str(root))
        patch.setattr(shards, "optimize_shard", faulty_optimizer(shards.optimize_shard, injector))
        result = run(day)
    return home, day, result, injector.accounts


def check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_the_proposal_check_fails_with_counts_per_rule_and_the_accounts(faulty_run) -> None:
    home, day, result, accounts = faulty_run
    assert result.success
    proposed = storage.read_partition("proposed_routes", day, home)
    assert set(proposed.filter(pl.col("account_id").is_in(accounts))["route"]) <= set(
        TRADING_ROUTES
    )
    proposal = check(result, "proposal_compliance")
    assert not proposal.passed
    assert proposal.severity == dg.AssetCheckSeverity.ERROR
    metadata = {key: value.value for key, value in proposal.metadata.items()}
    assert metadata["violations_per_rule"] == INJECTED_RULES
    assert metadata["accounts_withheld"] == accounts
    assert check(result, "release_compliance").passed


def test_no_violating_row_reaches_the_trade_files(faulty_run) -> None:
    home, day, _, accounts = faulty_run
    decisions = storage.read_partition("routing_decisions", day, home)
    withheld = decisions.filter(pl.col("account_id").is_in(accounts))
    assert withheld["route"].to_list() == ["MANUAL", "MANUAL"]
    violations = storage.read_partition("compliance_violations", day, home)
    assert sorted(violations["account_id"].unique()) == accounts
    files = sorted((home / "trades" / day.isoformat()).glob("*_trades_*.csv"))
    written = pl.concat([pl.read_csv(f, infer_schema=False) for f in files])
    released = storage.read_partition("released_trades", day, home)
    assert not released.is_empty()
    assert set(written["account_id"]) == set(released["account_id"])
    assert not set(written["account_id"]) & set(accounts)


def test_a_violation_left_in_the_release_blocks_the_trade_files(book, faulty_run, tmp_path):
    """If withholding failed, the release check fails and the trade files are not written."""
    home, day, _, _ = faulty_run
    copy = tmp_path / "home"
    shutil.copytree(home / "warehouse", copy / "warehouse")
    keys = ["routing_decisions", "released_trades", "review_queue", "compliance_violations"]
    keys += ["trade_files", "review_outcomes"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REBALANCE_HOME", str(copy))
        patch.setenv("REBALANCE_BOOK", str(book[0]))
        patch.setattr(stage, "withhold", lambda proposal, violations: proposal)
        result = run(day, [dg.AssetKey(key) for key in keys])
    assert not result.success
    assert not check(result, "release_compliance").passed
    assert not (copy / "trades").exists()


def test_the_engine_proposes_nothing_compliance_withholds_on_the_sample_book(
    materialized_sample,
) -> None:
    home, day = materialized_sample
    assert storage.read_partition("compliance_violations", day, home).is_empty()
    proposed = storage.read_partition("proposed_routes", day, home)
    assert proposed.equals(storage.read_partition("routing_decisions", day, home))
