"""Benchmark of the optimization stage on a synthetic book.

    .venv/bin/python benchmarks/bench_optimize.py --accounts 10000 --workers 2 --households 50

Synthetic accounts (about 40 securities and 120 lots each, households of 1-3, numpy
seeded) are sharded as the pipeline shards them and solved by a process pool, one
compiled problem per bucket per worker. Import and pool start-up are timed apart from
the warm stage. The DPP-reuse speed-up compares re-solving one compiled problem with
building the problem anew for every account. ``--households`` times the household
asset-location problem (one problem over a taxable account and an IRA on one model,
``optimization/household.py``) against solving its two accounts alone.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

T0 = time.perf_counter()
import numpy as np  # noqa: E402

from rebalance_pipeline.optimization.problem import AccountProblem  # noqa: E402
from rebalance_pipeline.optimization.shards import (  # noqa: E402
    assign_shards,
    optimize_shard,
    shard_count,
)
from rebalance_pipeline.policy import Policy  # noqa: E402

CLASSES = ["us_equity", "intl_equity", "us_bonds"]
CLASS_SHARE = np.array([0.5, 0.15, 0.35])
BANDS = 0.05  # band half-width around the model's class weight


def synthetic_problems(n_accounts: int, seed: int = 7) -> list[AccountProblem]:
    rng = np.random.default_rng(seed)
    n_securities = 300
    prices = np.round(rng.uniform(20, 300, n_securities), 2)
    classes = rng.choice(3, n_securities, p=CLASS_SHARE)
    groups = [f"G{i // 2}" for i in range(n_securities)]  # pairs are identical
    ratings = rng.integers(1, 6, n_securities)
    problems: list[AccountProblem] = []
    household = 0
    while len(problems) < n_accounts:
        for _ in range(min(int(rng.integers(1, 4)), n_accounts - len(problems))):
            problems.append(
                _account(rng, len(problems), household, prices, classes, groups, ratings)
            )
        household += 1
    return problems


def _account(
    rng, index, household, prices, classes, groups, ratings, model=None, registration=None
) -> AccountProblem:
    """A synthetic account; ``model`` (universe, targets): the model it follows (else a
    model of its own), ``registration``: its registration (else a random one)."""
    if model is None:
        universe = np.sort(rng.choice(len(prices), 40, replace=False))
        targets = np.zeros(40)
        targets[:35] = rng.dirichlet(np.ones(35))
    else:
        universe, targets = model
    value = float(rng.uniform(2e5, 5e6))
    drift = targets * rng.lognormal(0, 0.15, 40) + np.where(np.arange(40) >= 35, 0.01, 0)
    weights = drift / drift.sum() * (1 - rng.uniform(0.0, 0.05))
    quantities = np.floor(weights * value / prices[universe])
    lots_per = rng.multinomial(120 - 40, np.ones(40) / 40) + 1
    lot_security = np.repeat(np.arange(40), lots_per)
    shares = np.concatenate([_split(rng, quantities[i], n) for i, n in enumerate(lots_per)])
    basis_ratio = rng.lognormal(-0.1, 0.3, len(lot_security))
    market = quantities @ prices[universe]
    class_targets = np.bincount(classes[universe], targets, minlength=3)
    cash = float(value - market)
    if registration is None:
        registration = rng.choice(["taxable", "taxable", "traditional_ira", "roth"])
    withdrawal = float(rng.uniform(0.01, 0.05) * value) if rng.random() < 0.05 else 0.0
    return AccountProblem(
        account_id=f"A{index:06d}",
        household_id=f"H{household:06d}",
        registration=str(registration),
        st_rate=0.37,
        lt_rate=0.2,
        total_value=market + cash,
        cash=cash,
        required_cash=withdrawal,
        security_ids=[f"S{i:04d}" for i in universe],
        asset_classes=[CLASSES[c] for c in classes[universe]],
        identical_groups=[groups[i] for i in universe],
        prices=prices[universe],
        ratings=ratings[universe].astype(np.float64),
        round_lots=np.ones(40, dtype=np.int64),
        targets=targets,
        quantities=quantities,
        halted=np.zeros(40, dtype=np.bool_),
        untradable=np.zeros(40, dtype=np.bool_),
        restricted=rng.random(40) < 0.005,
        buy_blocked=np.zeros(40, dtype=np.bool_),
        lot_ids=[f"A{index:06d}-L{j:03d}" for j in range(len(lot_security))],
        lot_security=lot_security,
        lot_quantities=shares,
        lot_cost_basis=shares * prices[universe][lot_security] * basis_ratio,
        lot_long_term=rng.random(len(lot_security)) < 0.7,
        lot_days_to_long_term=np.zeros(len(lot_security), dtype=np.int64),
        lot_loss_sale_blocked=np.zeros(len(lot_security), dtype=np.bool_),
        band_classes=CLASSES,
        band_min=np.clip(class_targets - BANDS, 0, 1),
        band_max=class_targets + BANDS,
        class_vols=np.full(40, np.nan),  # the default risk model
        volumes=np.full(40, np.nan),  # no market impact modelled
        mandates=[],
        unpriced_targets=[],
    )


def synthetic_households(n_households: int, seed: int = 11) -> list[list[AccountProblem]]:
    """Households of a taxable account and an IRA on one model, like ``synthetic_problems``'
    accounts otherwise."""
    rng = np.random.default_rng(seed)
    n_securities = 300
    prices = np.round(rng.uniform(20, 300, n_securities), 2)
    classes = rng.choice(3, n_securities, p=CLASS_SHARE)
    groups = [f"G{i // 2}" for i in range(n_securities)]
    ratings = rng.integers(1, 6, n_securities)
    households = []
    for household in range(n_households):
        targets = np.zeros(40)
        targets[:35] = rng.dirichlet(np.ones(35))
        model = (np.sort(rng.choice(n_securities, 40, replace=False)), targets)
        market = (prices, classes, groups, ratings)
        households.append(
            [
                _account(rng, 2 * household + i, household, *market, model, registration)
                for i, registration in enumerate(["taxable", "traditional_ira"])
            ]
        )
    return households


def household_solve_times(
    households: list[list[AccountProblem]], policy: Policy
) -> tuple[float, float]:
    """CPU seconds in the solver per household: its one household problem, and its
    accounts solved alone (compiled problems warmed first, so neither counts compiling)."""
    from rebalance_pipeline.optimization import convex, household

    on = policy.model_copy(
        update={
            "optimization": policy.optimization.model_copy(
                update={"household_asset_location": True}
            )
        }
    )
    members = [household.Household(h, convex.account_risk(h[0], on)) for h in households]
    for each in members[:1]:
        household.solve_household_trades(each, on)
        for problem in each.problems:
            convex.solve_convex(problem, policy)
    joint = sum(household.solve_household_trades(m, on).solve_seconds for m in members)
    alone = sum(convex.solve_convex(p, policy).solve_seconds for m in members for p in m.problems)
    return joint / len(members), alone / len(members)


def _split(rng, quantity: float, n: int) -> np.ndarray:
    """``quantity`` shares in ``n`` lots (whole shares, the last lot takes the rest)."""
    cuts = np.floor(rng.dirichlet(np.ones(n)) * quantity)
    cuts[-1] = quantity - cuts[:-1].sum()
    return cuts


def _solve_shard(args: tuple[list[AccountProblem], Policy]) -> tuple[float, float, int, int]:
    """(busy seconds, solver seconds, accounts, solver calls) of one shard."""
    from rebalance_pipeline.optimization import convex

    problems, policy = args
    calls_before = sum(b.solves for b in convex._BUCKETS.values())
    start = time.perf_counter()
    results, _ = optimize_shard(problems, policy)
    busy = time.perf_counter() - start
    calls = sum(b.solves for b in convex._BUCKETS.values()) - calls_before
    return busy, float(results["solve_seconds"].sum()), results.height, calls


def _warm_worker() -> None:
    import cvxpy  # noqa: F401

    from rebalance_pipeline.optimization import convex  # noqa: F401


def dpp_reuse_speedup(problems: list[AccountProblem], policy: Policy) -> tuple[float, float]:
    """Seconds per account: re-solving the compiled bucket vs building per account."""
    from rebalance_pipeline.optimization import convex

    key = convex.bucket_key(problems[0], policy)
    same = [p for p in problems if convex.bucket_key(p, policy) == key]
    opt = policy.optimization
    convex.solve_convex(same[0], policy)  # compile once
    start = time.perf_counter()
    for p in same:
        convex.solve_convex(p, policy)
    reuse = (time.perf_counter() - start) / len(same)
    start = time.perf_counter()
    for p in same:
        fresh = convex.BucketProblem(*key)
        fresh.set_values(convex.Account(p, policy, convex.account_risk(p, policy)), policy)
        fresh.solve(opt.solver, opt.fallback_solver)
    rebuild = (time.perf_counter() - start) / len(same)
    return reuse, rebuild


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse-accounts", type=int, default=200)
    parser.add_argument(
        "--households", type=int, default=50, help="two-account households timed (0: none)"
    )
    args = parser.parse_args()
    import_seconds = time.perf_counter() - T0
    start = time.perf_counter()
    import cvxpy  # noqa: F401

    cvxpy_import = time.perf_counter() - start
    policy = Policy()

    start = time.perf_counter()
    problems = synthetic_problems(args.accounts)
    generate = time.perf_counter() - start
    n_shards = shard_count(len(problems), policy, args.workers)
    shards = assign_shards(problems, n_shards)

    start = time.perf_counter()
    context = mp.get_context("forkserver")
    with context.Pool(args.workers, initializer=_warm_worker) as pool:
        pool.map(time.sleep, [0.0] * args.workers)  # workers started and warm
        startup = time.perf_counter() - start
        start = time.perf_counter()
        outputs = pool.map(
            _solve_shard, [(members, policy) for members in shards.values()], chunksize=1
        )
        wall = time.perf_counter() - start

    busy = sum(o[0] for o in outputs)
    solver = sum(o[1] for o in outputs)
    solved = sum(o[2] for o in outputs)
    calls = sum(o[3] for o in outputs)
    print(f"imports (package) {import_seconds:.2f} s, cvxpy {cvxpy_import:.2f} s")
    print(f"pool start-up ({args.workers} workers, warm imports) {startup:.2f} s")
    print(f"synthetic book: {solved} accounts in {n_shards} shards, generated in {generate:.1f} s")
    print(f"stage wall time           {wall:8.2f} s   (target <= 60 s for 10k accounts)")
    print(f"accounts / s              {solved / wall:8.1f}")
    print(f"sum of solver time        {solver:8.2f} s   ({calls / solved:.2f} solves / account)")
    print(f"sum of shard busy time    {busy:8.2f} s")
    print(f"wall x workers / busy     {wall * args.workers / busy:8.2f}   (1.0 = no idle worker)")
    print(f"busy / solver time        {busy / solver:8.2f}   (overhead around the solver)")

    reuse, rebuild = dpp_reuse_speedup(problems[: args.reuse_accounts], policy)
    print(
        f"DPP reuse: {reuse * 1e3:.1f} ms / account, rebuild: {rebuild * 1e3:.1f} ms / account,"
        f" speed-up {rebuild / reuse:.1f}x (target >= 3x)"
    )
    if args.households:
        joint, alone = household_solve_times(synthetic_households(args.households), policy)
        print(
            f"household asset location ({args.households} households of a taxable account and"
            f" an IRA): solver {joint * 1e3:.1f} ms / household problem,"
            f" {alone * 1e3:.1f} ms for its two accounts alone"
        )


if __name__ == "__main__":
    main()
