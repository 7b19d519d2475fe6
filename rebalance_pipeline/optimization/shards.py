"""Solving accounts: one alone (``solve_one``) or a shard of whole households.

Within a household the accounts are solved in a fixed order (taxable first, then by
account id) and each one's trades block the later ones: a loss sale of an identical
group in a taxable account blocks buys of the group, a buy blocks taxable loss sales.
"""

from __future__ import annotations

import dataclasses
import heapq
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.optimization.heuristic import ShareTrades, no_trades, whole_shares
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.risk import FactorRisk, account_risk
from rebalance_pipeline.optimization.score import score_trades
from rebalance_pipeline.policy import Policy

# re-solves that block buys of a group the account also sells at a loss; after the last
# one, such buys are dropped from the trades
MAX_WASH_RESOLVES = 2


@dataclasses.dataclass(frozen=True)
class AccountOutcome:
    result: dict
    trades: dict[str, list]  # PROPOSED_TRADES columns
    loss_sale_groups: frozenset[str]  # groups sold at a loss in a taxable account
    bought_groups: frozenset[str]


def solve_one(
    problem: AccountProblem, policy: Policy, household: Sequence[AccountProblem] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Re-solve one account alone: (its result row, its trades).

    ``household`` (the stored problems of the account's household, itself included or
    not) lets the accounts solved before it that day set their same-day wash-sale
    blocks, or a householded household be solved whole again, so the stored result is
    reproduced exactly.
    """
    from rebalance_pipeline.optimization.household import householded, solve_household

    others = [p for p in household if p.account_id != problem.account_id]
    if householded([*others, problem], policy):
        solved = solve_household([*others, problem], policy)
        return _frames([o for o in solved if o.result["account_id"] == problem.account_id])
    earlier = [p for p in others if household_order(p) < household_order(problem)]
    outcomes = _solve_household([*earlier, problem], policy)
    return _frames(outcomes[-1:])


def optimize_shard(
    problems: list[AccountProblem], policy: Policy
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Results and trades of every account of the shard, sorted (deterministic)."""
    households: dict[str, list[AccountProblem]] = defaultdict(list)
    for problem in problems:
        households[problem.household_id].append(problem)
    outcomes = [
        outcome
        for household in sorted(households)
        for outcome in _solve_household(households[household], policy)
    ]
    return _frames(outcomes)


def _solve_household(problems: list[AccountProblem], policy: Policy) -> list[AccountOutcome]:
    """The household's accounts in order, each blocked by the trades of those before; or
    all in one problem under household asset location (``household.py``)."""
    from rebalance_pipeline.optimization.household import householded, solve_household

    if householded(problems, policy):
        return solve_household(problems, policy)
    blocked_buys: set[str] = set()
    blocked_loss_sales: set[str] = set()
    outcomes = []
    for problem in sorted(problems, key=household_order):
        outcome = solve_account(
            problem, policy, frozenset(blocked_buys), frozenset(blocked_loss_sales)
        )
        blocked_buys |= outcome.loss_sale_groups
        blocked_loss_sales |= outcome.bought_groups
        outcomes.append(outcome)
    return outcomes


def household_shards(household_ids: Iterable[str], n_shards: int) -> dict[str, int]:
    """The shard of each household (one id per account): whole households, largest
    first, each to the least loaded shard (deterministic)."""
    sizes = Counter(household_ids)
    loads = [(0, shard) for shard in range(max(n_shards, 1))]  # (accounts, shard): a heap
    shard_of = {}
    for household in sorted(sizes, key=lambda h: (-sizes[h], h)):
        load, lightest = heapq.heappop(loads)
        shard_of[household] = lightest
        heapq.heappush(loads, (load + sizes[household], lightest))
    return shard_of


def split_into_shards(problems: pl.DataFrame, n_shards: int) -> list[tuple[int, pl.DataFrame]]:
    """The rows of a problem table by shard (``household_shards``), empty shards left out."""
    households = problems["household_id"]
    shard_of = household_shards(households, n_shards)
    assigned = problems.with_columns(households.replace_strict(shard_of).alias("shard"))
    parts = assigned.partition_by("shard", as_dict=True, maintain_order=True)
    return [(shard, part.drop("shard")) for (shard,), part in sorted(parts.items())]


def assign_shards(problems: list[AccountProblem], n_shards: int) -> dict[int, list[AccountProblem]]:
    """The problems by shard (``household_shards``), each household's in solving order."""
    shard_of = household_shards((p.household_id for p in problems), n_shards)
    shards: dict[int, list[AccountProblem]] = {i: [] for i in range(max(n_shards, 1))}
    for problem in sorted(problems, key=lambda p: (p.household_id, household_order(p))):
        shards[shard_of[problem.household_id]].append(problem)
    return shards


def available_workers() -> int:
    """The cores this process may run on: the shards' workers."""
    return max(1, len(os.sched_getaffinity(0)))


def shard_count(n_accounts: int, policy: Policy, workers: int) -> int:
    """About ``shards_per_worker`` shards per worker, each of at least
    ``accounts_per_shard`` accounts, and never fewer than one."""
    opt = policy.optimization
    by_workers = max(workers, 1) * opt.shards_per_worker
    by_size = n_accounts // opt.accounts_per_shard
    return max(1, min(by_workers, by_size))


def household_order(problem: AccountProblem) -> tuple[bool, str]:
    return (not problem.is_taxable, problem.account_id)


def solve_account(
    problem: AccountProblem,
    policy: Policy,
    blocked_buys: frozenset[str],
    blocked_loss_sales: frozenset[str],
) -> AccountOutcome:
    """Solve, round and score one account. An optimization that gives no proposal
    (``errors``) is the account's result row; anything else is a defect and is raised."""
    from rebalance_pipeline.optimization.errors import OptimizationError

    problem = problem.with_blocks(set(blocked_buys), set(blocked_loss_sales))
    notes = [
        *_same_day_notes(problem, blocked_buys, blocked_loss_sales),
        *_input_notes(problem, policy),
    ]
    if not problem.security_ids:
        return outcome(problem, no_trades(problem), policy, "no_universe", notes, 0.0)
    if not needs_proposal(problem, policy):
        notes.append("not proposed: the trigger cannot trade the account today")
        return outcome(problem, no_trades(problem), policy, "optimal", notes, 0.0)
    risk = account_risk(problem, policy)  # the blocks leave it as it is
    try:
        problem, trades, solver_seconds = _propose(problem, policy, risk, notes)
    except OptimizationError as error:
        notes.append(str(error))
        return outcome(problem, no_trades(problem), policy, error.status, notes, 0.0)
    scores = score_trades(problem, trades, risk, policy)
    if scores["score_usd"] < 0 and not problem.mandates:
        # doing nothing is feasible and scores 0: without a mandate nothing worse goes out
        score = scores["score_usd"]
        notes.append(f"the rounded proposal scored ${score:,.2f}, below doing nothing: no trades")
        return outcome(problem, no_trades(problem), policy, "optimal", notes, solver_seconds)
    return outcome(problem, trades, policy, "optimal", notes, solver_seconds, scores)


def needs_proposal(problem: AccountProblem, policy: Policy) -> bool:
    """Whether a proposal could be traded today (``workflow.propose_untriggered``): a
    mandate trades whatever the trigger, otherwise only the trigger's SCORE route does."""
    workflow = policy.workflow
    return (
        workflow.propose_untriggered
        or bool(problem.mandates)
        or workflow.score_may_trade(problem.days_since_last_trade)
    )


def _propose(
    problem: AccountProblem, policy: Policy, risk: FactorRisk, notes: list[str]
) -> tuple[AccountProblem, ShareTrades, float]:
    """Whole-share trades for the account: (the problem as finally blocked, the trades,
    seconds in the solver).

    Buys of groups the account will likely harvest are blocked before the first solve.
    Where it then does not harvest, it is re-solved the other way round: buys of the group
    free, its loss lots kept (the first solution is still feasible, so this one is at
    least as good). A buy of a group it does sell at a loss is blocked and re-solved, or
    dropped when small or after ``MAX_WASH_RESOLVES``.
    """
    likely = likely_harvests(problem, policy)
    attempt = problem.with_blocks(likely, set())
    trades, seconds = _solve_whole_shares(attempt, policy, risk, notes)
    unharvested = likely - loss_sale_groups(attempt, trades)
    if unharvested:
        attempt = problem.with_blocks(likely - unharvested, unharvested)
        trades, more = _solve_whole_shares(attempt, policy, risk, notes)
        seconds += more
        notes.append(f"no harvest of {_names(unharvested)}: re-solved with its buys allowed")
    wash_resolve_floor = policy.optimization.wash_resolve_min_pct / 100
    for attempt_number in range(MAX_WASH_RESOLVES + 1):
        washed = bought_groups(attempt, trades) & loss_sale_groups(attempt, trades)
        if not washed:
            break
        attempt = attempt.with_blocks(washed, set())
        small = _buys_of(attempt, trades, washed) < wash_resolve_floor * attempt.total_value
        if small or attempt_number == MAX_WASH_RESOLVES:
            trades = without_buys_of(attempt, trades, washed)
            notes.append(f"dropped buys of {_names(washed)} (sold at a loss)")
            break
        notes.append(f"re-solved without buys of {_names(washed)} (sold at a loss)")
        trades, more = _solve_whole_shares(attempt, policy, risk, notes)
        seconds += more
    return attempt, trades, seconds


def _solve_whole_shares(
    problem: AccountProblem, policy: Policy, risk: FactorRisk, notes: list[str]
) -> tuple[ShareTrades, float]:
    from rebalance_pipeline.optimization import convex

    solution = convex.solve_convex(problem, policy, risk)
    if solution.failures:
        notes.append(f"solved by {solution.solver} after {solution.failures}")
    trades = whole_shares(problem, solution.buy_weights, solution.sell_weights, policy)
    return trades, solution.solve_seconds


def outcome(
    problem: AccountProblem,
    trades: ShareTrades,
    policy: Policy,
    status: str,
    notes: list[str],
    solve_seconds: float,
    scores: dict | None = None,
) -> AccountOutcome:
    """The account's result row and trades; ``scores``: ``score_trades`` of these
    trades when already computed."""
    if scores is None:
        scores = score_trades(problem, trades, account_risk(problem, policy), policy)
    result = {
        "account_id": problem.account_id,
        "solve_status": status,
        "status_detail": "; ".join(notes) or None,
        "account_value": problem.total_value,
        "cash_before": problem.cash,
        "required_cash": problem.required_cash,
        **scores,
        "solve_seconds": solve_seconds,
    }
    return AccountOutcome(
        result=result,
        trades=_trade_columns(problem, trades),
        loss_sale_groups=frozenset(loss_sale_groups(problem, trades)),
        bought_groups=frozenset(bought_groups(problem, trades)),
    )


def _input_notes(problem: AccountProblem, policy: Policy) -> list[str]:
    """What the problem leaves out or cannot model, for audit."""
    notes = []
    if problem.unpriced_targets:
        notes.append(f"no close today for model targets {', '.join(problem.unpriced_targets)}")
    frozen = [s for s, f in zip(problem.security_ids, problem.untradable, strict=True) if f]
    if frozen:
        notes.append(f"held as they are (price in doubt today): {', '.join(frozen)}")
    if policy.optimization.market_impact_coefficient > 0:
        unknown = [
            s for s, v in zip(problem.security_ids, problem.volumes, strict=True) if not v > 0
        ]
        if unknown:
            notes.append(f"no traded volume for {', '.join(unknown)}: no market impact modelled")
    return notes


def _same_day_notes(
    problem: AccountProblem, blocked_buys: frozenset[str], blocked_loss_sales: frozenset[str]
) -> list[str]:
    """The same-day household blocks that touch this account's universe, for audit."""
    groups = set(problem.identical_groups)
    buys, loss_sales = blocked_buys & groups, blocked_loss_sales & groups
    notes = []
    if buys:
        notes.append(f"no buys of {_names(buys)} (household loss sale today)")
    if loss_sales:
        notes.append(f"no loss sales of {_names(loss_sales)} (household buy today)")
    return notes


def _names(groups: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(groups))


def likely_harvests(problem: AccountProblem, policy: Policy) -> set[str]:
    """Groups the account will probably sell at a loss: its loss lots there are worth more
    in tax than a round trip costs. Their buys are blocked before the first solve, as a
    re-solve would block them after it (a same-day buy would wash the loss)."""
    if not problem.is_taxable or not len(problem.lot_ids):
        return set()
    opt = policy.optimization
    benefit = -problem.lot_gain_per_dollar * problem.lot_tax_rates * opt.tax_weight
    worth = benefit > 2 * opt.transaction_cost_bps / 1e4
    lots = np.flatnonzero(worth & ~problem.lot_loss_sale_blocked)
    return {problem.identical_groups[problem.lot_security[lot]] for lot in lots}


def _buys_of(problem: AccountProblem, trades: ShareTrades, groups: set[str]) -> float:
    """Dollars the trades spend on buys of ``groups``."""
    return float((trades.buy_shares * problem.prices)[problem.in_groups(groups)].sum())


def without_buys_of(problem: AccountProblem, trades: ShareTrades, groups: set[str]) -> ShareTrades:
    """The trades less their buys of ``groups`` (cash only grows)."""
    keep = ~problem.in_groups(groups)
    return ShareTrades(np.where(keep, trades.buy_shares, 0.0), trades.sell_shares)


def bought_groups(problem: AccountProblem, trades: ShareTrades) -> set[str]:
    return {problem.identical_groups[i] for i in np.flatnonzero(trades.buy_shares > 0)}


def loss_sale_groups(problem: AccountProblem, trades: ShareTrades) -> set[str]:
    if not problem.is_taxable:
        return set()
    at_loss = problem.lot_gain_per_dollar < 0
    return {
        problem.identical_groups[problem.lot_security[i]]
        for i in np.flatnonzero((trades.sell_shares > 0) & at_loss)
    }


def _trade_columns(problem: AccountProblem, trades: ShareTrades) -> dict[str, list]:
    """The account's trades as PROPOSED_TRADES columns: its buys, then its sells by lot."""
    buys = np.flatnonzero(trades.buy_shares)
    lots = np.flatnonzero(trades.sell_shares)
    securities = np.concatenate([buys, problem.lot_security[lots]])
    quantities = np.concatenate([trades.buy_shares[buys], trades.sell_shares[lots]])
    prices = problem.prices[securities]
    sold = quantities[len(buys) :] * prices[len(buys) :]
    # a gain only where it has a tax effect
    taxable = problem.is_taxable
    gains = (sold * problem.lot_gain_per_dollar[lots]).tolist() if taxable else [None] * len(lots)
    no_values = [None] * len(buys)
    return {
        "account_id": [problem.account_id] * len(securities),
        "security_id": [problem.security_ids[i] for i in securities],
        "side": ["buy"] * len(buys) + ["sell"] * len(lots),
        "quantity": quantities.tolist(),
        "price": prices.tolist(),
        "amount": (quantities * prices).tolist(),
        "lot_id": no_values + [problem.lot_ids[lot] for lot in lots],
        "realized_gain": no_values + gains,
        "asset_class": [problem.asset_classes[i] for i in securities],
    }


def _frames(outcomes: list[AccountOutcome]) -> tuple[pl.DataFrame, pl.DataFrame]:
    results = pl.DataFrame([o.result for o in outcomes], schema=t.OPTIMIZATION_RESULTS)
    trades = pl.DataFrame(
        {name: [v for o in outcomes for v in o.trades[name]] for name in t.PROPOSED_TRADES},
        schema=t.PROPOSED_TRADES,
    )
    return (
        t.conform(results.sort("account_id"), t.OPTIMIZATION_RESULTS),
        t.conform(
            trades.sort(["account_id", "side", "security_id", "lot_id"], nulls_last=True),
            t.PROPOSED_TRADES,
        ),
    )
