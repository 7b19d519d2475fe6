"""Turn a scenario into our own inputs: a canonical ``Book`` and a firm ``Policy``.

Nothing here decides anything: the scenario's data become the same canonical tables the
custodian ingest produces, and its neutral policy names become fields of our policy.
Identifiers the security master does not know stay unmapped (``security_id`` null,
``symbol`` kept), exactly as ingest leaves an unknown custodian symbol.
"""

from __future__ import annotations

import polars as pl

from rebalance_pipeline.book import Book
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.scenario.model import Scenario

CUSTODIAN = "scenario"
SOURCE = "scenario.yaml"


def scenario_policy(scenario: Scenario, base: Policy | None = None) -> Policy:
    """The firm's default policy with the scenario's neutral overrides applied."""
    base = base or Policy()
    given = scenario.policy
    workflow = {
        k: v
        for k, v in {
            "halt_mode": given.halt_mode,
            "step2_high_priority_only": given.step2_high_priority_only,
        }.items()
        if v is not None
    }
    optimization = {
        k: v
        for k, v in {
            "tax_aversion": given.tax_aversion,
            "round_lots": given.round_lots,
            "household_asset_location": given.household_asset_location,
            "asset_location_bps": given.asset_location_bps,
        }.items()
        if v is not None
    }
    group_keys = ("long_term_deferral_days", "gain_budget_usd", "gain_budget_pct")
    group_policy = {k: getattr(given, k) for k in group_keys if getattr(given, k) is not None}
    groups = [group.model_copy(update=group_policy) for group in base.account_groups]
    return base.model_copy(
        update={
            "workflow": base.workflow.model_copy(update=workflow),
            "optimization": base.optimization.model_copy(update=optimization),
            "account_groups": groups,
        }
    )


def _known(scenario: Scenario) -> set[str]:
    return {s.id for s in scenario.securities}


def _security_columns(ids: list[str], known: set[str]) -> dict[str, list[str | None]]:
    return {
        "security_id": [i if i in known else None for i in ids],
        "symbol": ids,
    }


def _source(n: int) -> dict[str, list]:
    return {
        "custodian": [CUSTODIAN] * n,
        "source_file": [SOURCE] * n,
        "source_row": list(range(1, n + 1)),
    }


def _accounts(s: Scenario) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [a.id for a in s.accounts],
            "household_id": [a.household for a in s.accounts],
            "custodian": [CUSTODIAN] * len(s.accounts),
            "registration": [a.registration for a in s.accounts],
            "model_id": [a.model for a in s.accounts],
            "st_rate": [a.st_rate for a in s.accounts],
            "lt_rate": [a.lt_rate for a in s.accounts],
            "last_firm_trade_date": [a.last_trade for a in s.accounts],
            "rebalance_type": [a.rebalance_type for a in s.accounts],
            "gain_budget": [a.gain_budget_text for a in s.accounts],
            "transition_start": [a.transition_start for a in s.accounts],
        },
        schema_overrides={
            "rebalance_type": pl.String,
            "gain_budget": pl.String,
            "transition_start": pl.Date,
        },
    )


def _securities(s: Scenario) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "security_id": [x.id for x in s.securities],
            "symbol": [x.symbol for x in s.securities],
            "asset_class": [x.asset_class for x in s.securities],
            "sector": [x.sector for x in s.securities],
            "rating": [x.rating for x in s.securities],
            "round_lot": [x.round_lot for x in s.securities],
            "identical_group": [x.identical_group or x.id for x in s.securities],
            "average_daily_volume": [x.average_daily_volume for x in s.securities],
        },
        schema_overrides={"average_daily_volume": pl.Float64},
    )


def _prices(s: Scenario) -> pl.DataFrame:
    ids = [x.id for x in s.securities]
    return pl.DataFrame(
        {
            "price_date": [s.as_of] * len(ids),
            "security_id": ids,
            "symbol": [x.symbol for x in s.securities],
            "close": [x.price for x in s.securities],
            **_source(len(ids)),
        }
    )


def _models(s: Scenario) -> tuple[pl.DataFrame, pl.DataFrame]:
    targets = [
        {"model_id": m, "security_id": sec, "target_weight": w}
        for m, model in s.models.items()
        for sec, w in model.targets.items()
    ]
    bands = [
        {"model_id": m, "asset_class": cls, "min_weight": lo, "max_weight": hi}
        for m, model in s.models.items()
        for cls, (lo, hi) in model.bands.items()
    ]
    return pl.DataFrame(targets), pl.DataFrame(bands)


def _lots(s: Scenario) -> pl.DataFrame:
    rows = [(a.id, lot) for a in s.accounts for lot in a.lots]
    return pl.DataFrame(
        {
            "account_id": [a for a, _ in rows],
            "lot_id": [lot.id for _, lot in rows],
            **_security_columns([lot.security for _, lot in rows], _known(s)),
            "quantity": [lot.quantity for _, lot in rows],
            "cost_basis": [lot.cost_basis for _, lot in rows],
            "acquired_date": [lot.acquired for _, lot in rows],
            **_source(len(rows)),
        },
        schema_overrides={"quantity": pl.Float64, "cost_basis": pl.Float64},
    )


def _positions(s: Scenario) -> pl.DataFrame:
    """Listed custodian positions; an account with none listed holds the sums of its lots."""
    listed = {p.account for p in s.positions}
    rows = [(p.account, p.security, p.quantity) for p in s.positions]
    for account in s.accounts:
        if account.id in listed:
            continue
        sums: dict[str, float] = {}
        for lot in account.lots:
            sums[lot.security] = sums.get(lot.security, 0.0) + lot.quantity
        rows.extend((account.id, sec, qty) for sec, qty in sums.items())
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            **_security_columns([r[1] for r in rows], _known(s)),
            "quantity": [float(r[2]) for r in rows],
            **_source(len(rows)),
        },
        schema_overrides={"quantity": pl.Float64},
    )


def _cash(s: Scenario) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [a.id for a in s.accounts],
            "cash": [a.cash for a in s.accounts],
            **_source(len(s.accounts)),
        },
        schema_overrides={"cash": pl.Float64},
    )


def _cash_requests(s: Scenario) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "request_id": [f"{r.account}-CR{i + 1}" for i, r in enumerate(s.cash_requests)],
            "account_id": [r.account for r in s.cash_requests],
            "amount": [float(r.amount) for r in s.cash_requests],
            "priority": [r.priority for r in s.cash_requests],
            "due_date": [r.due for r in s.cash_requests],
        }
    )


def _restrictions(s: Scenario) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "restriction_id": [f"R{i + 1}" for i in range(len(s.restrictions))],
            "account_id": [r.account for r in s.restrictions],
            "household_id": [r.household for r in s.restrictions],
            "security_id": [r.security for r in s.restrictions],
            "sector": [r.sector for r in s.restrictions],
            "reason": ["client restriction"] * len(s.restrictions),
        },
        schema_overrides={c: pl.String for c in ("account_id", "household_id", "security_id")}
        | {"sector": pl.String},
    )


def _holds(s: Scenario) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [h.account for h in s.holds],
            "start_date": [h.start for h in s.holds],
            "end_date": [h.end for h in s.holds],
            "reason": [h.reason for h in s.holds],
        }
    )


def _halts(s: Scenario) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "security_id": [h.security for h in s.halts],
            "start_date": [h.start for h in s.halts],
            "end_date": [h.end for h in s.halts],
            "reason": [h.reason for h in s.halts],
        }
    )


def _transactions(s: Scenario) -> pl.DataFrame:
    txs = s.transactions
    sign = {"buy": -1.0, "sell": 1.0}
    return pl.DataFrame(
        {
            "transaction_id": [f"T{i + 1}" for i in range(len(txs))],
            "account_id": [t.account for t in txs],
            "trade_date": [t.date for t in txs],
            "type": [t.side for t in txs],
            **_security_columns([t.security for t in txs], _known(s)),
            "quantity": [float(t.quantity) for t in txs],
            "price": [float(t.price) for t in txs],
            "amount": [sign[t.side] * t.quantity * t.price for t in txs],
            "realized_gain": [t.realized_gain for t in txs],
            "cost_basis": [t.cost_basis for t in txs],
            **_source(len(txs)),
        },
        schema_overrides={"realized_gain": pl.Float64, "cost_basis": pl.Float64},
    )


def scenario_book(s: Scenario) -> Book:
    targets, bands = _models(s)
    return Book.from_frames(
        s.as_of,
        accounts=_accounts(s),
        securities=_securities(s),
        model_targets=targets,
        model_bands=bands,
        restrictions=_restrictions(s),
        cash_requests=_cash_requests(s),
        holds=_holds(s),
        halts=_halts(s),
        prices=_prices(s),
        positions=_positions(s),
        lots=_lots(s),
        transactions=_transactions(s),
        cash_balances=_cash(s),
    )
