"""Solving accounts: one alone (``solve_one``) or a shard of whole households.

Within a household the accounts are solved in a fixed order (taxable first, then by
account id) and each one's trades block the later ones: a loss sale of an identical
group in a taxable account blocks buys of the group, a buy blocks taxable loss sales.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.optimization.heuristic import ShareTrades, no_trades, whole_shares
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.policy import Policy

MAX_WASH_RESOLVES = 3  # re-solves that block a group bought and sold at a loss together


@dataclasses.dataclass(frozen=True)
class AccountOutcome:
    result: dict
    trades: list[dict]
    loss_sale_groups: frozenset[str]  # groups sold at a loss in a taxable account
    bought_groups: frozenset[str]


def solve_one(
    problem: AccountProblem,
    policy: Policy,
    blocked_buys: frozenset[str] = frozenset(),
    blocked_loss_sales: frozenset[str] = frozenset(),
    shard: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Re-solve one account alone: (one result row, its trades)."""
    outcome = solve_account(problem, policy, blocked_buys, blocked_loss_sales, shard)
    return _frames([outcome])


def optimize_shard(
    problems: list[AccountProblem], policy: Policy, shard: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Results and trades of every account of the shard, sorted (deterministic)."""
    households: dict[str, list[AccountProblem]] = defaultdict(list)
    for problem in problems:
        households[problem.household_id].append(problem)
    outcomes = []
    for household in sorted(households):
        blocked_buys: set[str] = set()
        blocked_loss_sales: set[str] = set()
        for problem in sorted(households[household], key=_household_order):
            outcome = solve_account(
                problem, policy, frozenset(blocked_buys), frozenset(blocked_loss_sales), shard
            )
            blocked_buys |= outcome.loss_sale_groups
            blocked_loss_sales |= outcome.bought_groups
            outcomes.append(outcome)
    return _frames(outcomes)


def assign_shards(problems: list[AccountProblem], n_shards: int) -> dict[int, list[AccountProblem]]:
    """Whole households to shards, largest first to the least loaded (deterministic)."""
    households: dict[str, list[AccountProblem]] = defaultdict(list)
    for problem in problems:
        households[problem.household_id].append(problem)
    shards: dict[int, list[AccountProblem]] = {i: [] for i in range(max(n_shards, 1))}
    for household in sorted(households, key=lambda h: (-len(households[h]), h)):
        lightest = min(shards, key=lambda i: (len(shards[i]), i))
        shards[lightest].extend(sorted(households[household], key=_household_order))
    return shards


def shard_count(n_accounts: int, policy: Policy, workers: int) -> int:
    """About ``shards_per_worker`` shards per worker, each of at least
    ``accounts_per_shard`` accounts, and never fewer than one."""
    opt = policy.optimization
    by_workers = max(workers, 1) * opt.shards_per_worker
    by_size = n_accounts // opt.accounts_per_shard
    return max(1, min(by_workers, by_size))


def _household_order(problem: AccountProblem) -> tuple[bool, str]:
    return (not problem.is_taxable, problem.account_id)


def solve_account(
    problem: AccountProblem,
    policy: Policy,
    blocked_buys: frozenset[str],
    blocked_loss_sales: frozenset[str],
    shard: int,
) -> AccountOutcome:
    """Solve, round and score one account; failures are result rows, never exceptions."""
    from rebalance_pipeline.optimization import convex

    problem = problem.with_blocks(set(blocked_buys), set(blocked_loss_sales))
    if not problem.security_ids:
        return _outcome(problem, no_trades(problem), policy, shard, "no_universe", "", 0.0)
    solver_seconds = 0.0
    detail = ""
    try:
        for _ in range(MAX_WASH_RESOLVES + 1):
            solution = convex.solve_convex(problem, policy)
            solver_seconds += solution.solve_seconds
            trades = whole_shares(problem, solution.buy_weights, solution.sell_weights, policy)
            washed = _bought_groups(problem, trades) & _loss_sale_groups(problem, trades)
            if not washed:
                break
            problem = problem.with_blocks(washed, set())
            detail = f"re-solved without buys of {', '.join(sorted(washed))} (own loss sale)"
        else:
            return _outcome(
                problem,
                no_trades(problem),
                policy,
                shard,
                "solver_error",
                "wash-sale conflict persists after re-solves",
                solver_seconds,
            )
    except convex.InfeasibleError as error:
        return _outcome(problem, no_trades(problem), policy, shard, "infeasible", str(error), 0.0)
    except convex.SolverFailure as error:
        return _outcome(problem, no_trades(problem), policy, shard, "solver_error", str(error), 0.0)
    return _outcome(problem, trades, policy, shard, "optimal", detail, solver_seconds)


def _outcome(
    problem: AccountProblem,
    trades: ShareTrades,
    policy: Policy,
    shard: int,
    status: str,
    detail: str,
    solve_seconds: float,
) -> AccountOutcome:
    from rebalance_pipeline.optimization.convex import account_risk
    from rebalance_pipeline.optimization.score import score_trades

    risk = account_risk(problem, policy)
    result = {
        "account_id": problem.account_id,
        "solve_status": status,
        "status_detail": detail or None,
        "account_value": problem.total_value,
        "cash_before": problem.cash,
        "required_cash": problem.required_cash,
        **score_trades(problem, trades, risk, policy),
        "solve_seconds": solve_seconds,
        "shard": shard,
    }
    return AccountOutcome(
        result=result,
        trades=_trade_rows(problem, trades),
        loss_sale_groups=frozenset(_loss_sale_groups(problem, trades)),
        bought_groups=frozenset(_bought_groups(problem, trades)),
    )


def _bought_groups(problem: AccountProblem, trades: ShareTrades) -> set[str]:
    return {g for g, q in zip(problem.identical_groups, trades.buy_shares, strict=True) if q > 0}


def _loss_sale_groups(problem: AccountProblem, trades: ShareTrades) -> set[str]:
    if not problem.is_taxable:
        return set()
    at_loss = problem.lot_gain_per_dollar() < 0
    return {
        problem.identical_groups[problem.lot_security[i]]
        for i in np.flatnonzero((trades.sell_shares > 0) & at_loss)
    }


def _trade_rows(problem: AccountProblem, trades: ShareTrades) -> list[dict]:
    rows = []
    for i in np.flatnonzero(trades.buy_shares):
        rows.append(_trade(problem, i, "buy", trades.buy_shares[i], None, None))
    for lot in np.flatnonzero(trades.sell_shares):
        quantity = trades.sell_shares[lot]
        basis = problem.lot_cost_basis[lot] * quantity / problem.lot_quantities[lot]
        security = problem.lot_security[lot]
        gain = quantity * problem.prices[security] - basis
        rows.append(_trade(problem, security, "sell", quantity, problem.lot_ids[lot], gain))
    return rows


def _trade(
    problem: AccountProblem, i: int, side: str, quantity: float, lot: str | None, gain
) -> dict:
    price = float(problem.prices[i])
    return {
        "account_id": problem.account_id,
        "security_id": problem.security_ids[i],
        "side": side,
        "quantity": float(quantity),
        "price": price,
        "amount": float(quantity) * price,
        "lot_id": lot,
        "realized_gain": None if gain is None else float(gain),
        "asset_class": problem.asset_classes[i],
    }


def _frames(outcomes: list[AccountOutcome]) -> tuple[pl.DataFrame, pl.DataFrame]:
    results = pl.DataFrame([o.result for o in outcomes], schema=t.OPTIMIZATION_RESULTS)
    trades = pl.DataFrame([row for o in outcomes for row in o.trades], schema=t.PROPOSED_TRADES)
    return (
        t.conform(results.sort("account_id"), t.OPTIMIZATION_RESULTS),
        t.conform(
            trades.sort(["account_id", "side", "security_id", "lot_id"], nulls_last=True),
            t.PROPOSED_TRADES,
        ),
    )
