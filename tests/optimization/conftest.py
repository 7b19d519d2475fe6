"""Hand-built feature frames for small books in the acceptance scenarios' format.

``build_inputs`` computes, for a book written as a dict (securities, models, accounts
with lots, cash requests, restrictions, halts, transactions), the feature frames the
optimizer reads, the way the feature SQL defines them.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.optimization.problem import AccountProblem, build_problems
from rebalance_pipeline.policy import OptimizationPolicy, Policy, WorkflowPolicy

AS_OF = dt.date(2026, 3, 16)


def security(id_, asset_class, price, group, sector="Broad Market", rating=4, round_lot=1):
    return dict(
        id=id_,
        asset_class=asset_class,
        price=price,
        identical_group=group,
        sector=sector,
        rating=rating,
        round_lot=round_lot,
    )


SECURITIES = [
    security("SEC-BND2", "us_bonds", 100.0, "TOTAL_BOND", "Fixed Income"),
    security("SEC-BOND", "us_bonds", 80.0, "AGG_BOND", "Fixed Income"),
    security("SEC-INTL", "intl_equity", 50.0, "INTL"),
    security("SEC-LCAP", "us_equity", 120.0, "LARGE_US"),
    security("SEC-TMK2", "us_equity", 50.0, "TOTAL_US"),
    security("SEC-TMKT", "us_equity", 250.0, "TOTAL_US"),
]
BALANCED = {
    "targets": {
        "SEC-TMKT": 0.35,
        "SEC-LCAP": 0.15,
        "SEC-INTL": 0.1,
        "SEC-BOND": 0.25,
        "SEC-BND2": 0.15,
    },
    "bands": {"us_equity": (0.45, 0.55), "intl_equity": (0.05, 0.15), "us_bonds": (0.35, 0.45)},
}


def lot(id_, security_id, quantity, cost_basis, acquired="2021-06-01"):
    return dict(
        id=id_,
        security=security_id,
        quantity=quantity,
        cost_basis=cost_basis,
        acquired=dt.date.fromisoformat(acquired),
    )


def account(id_, lots, cash=8000.0, household=None, registration="taxable", model="M-BAL"):
    return dict(
        id=id_,
        household=household or f"H-{id_}",
        registration=registration,
        model=model,
        st_rate=0.37,
        lt_rate=0.2,
        cash=cash,
        lots=lots,
    )


def at_target_lots(prefix, scale=1.0):
    """The p01 account's lots: at its model, long-term gains only."""
    return [
        lot(f"{prefix}-L-TMKT", "SEC-TMKT", 1120 * scale, 224000.0 * scale),
        lot(f"{prefix}-L-LCAP", "SEC-LCAP", 1000 * scale, 96000.0 * scale),
        lot(f"{prefix}-L-INTL", "SEC-INTL", 1600 * scale, 64000.0 * scale),
        lot(f"{prefix}-L-BOND", "SEC-BOND", 2500 * scale, 160000.0 * scale),
        lot(f"{prefix}-L-BND2", "SEC-BND2", 1200 * scale, 96000.0 * scale),
    ]


P_LOTS_SCALES = [1.0, 0.5, 2.0, 1.5, 0.8, 1.2, 0.3]  # seven accounts, three households


def policy_with(
    halt_mode="skip_account", tax_aversion="medium", round_lots=False, **optimization
) -> Policy:
    return Policy(
        workflow=WorkflowPolicy(halt_mode=halt_mode),
        optimization=OptimizationPolicy(
            tax_aversion=tax_aversion, round_lots=round_lots, **optimization
        ),
    )


def build_inputs(
    accounts: list[dict],
    securities: list[dict] = SECURITIES,
    models: dict | None = None,
    cash_requests: list[dict] = (),
    restrictions: list[dict] = (),
    halts: list[str] = (),
    transactions: list[dict] = (),
    untradable: list[str] = (),
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    models = models or {"M-BAL": BALANCED}
    by_id = {s["id"]: s for s in securities}
    lots = [
        {**lt, "account_id": a["id"], "price": by_id[lt["security"]]["price"]}
        for a in accounts
        for lt in a["lots"]
    ]
    holdings: dict[tuple[str, str], float] = {}
    for lt in lots:
        key = (lt["account_id"], lt["security"])
        holdings[key] = holdings.get(key, 0.0) + lt["quantity"]
    market_value = {a["id"]: 0.0 for a in accounts}
    for (account_id, security_id), quantity in holdings.items():
        market_value[account_id] += quantity * (by_id[security_id]["price"] or 0.0)  # null: 0
    households = {a["id"]: a["household"] for a in accounts}
    features = {
        "account_valuations": _frame(
            [
                {
                    "account_id": a["id"],
                    "household_id": a["household"],
                    "custodian": "C1",
                    "registration": a["registration"],
                    "model_id": a["model"],
                    "st_rate": a["st_rate"],
                    "lt_rate": a["lt_rate"],
                    "status": "ok",
                    "cash": a["cash"],
                    "market_value": market_value[a["id"]],
                    "total_value": market_value[a["id"]] + a["cash"],
                }
                for a in accounts
            ],
            t.ACCOUNT_VALUATIONS,
        ),
        "tax_lots": _frame(
            [
                {
                    "account_id": lt["account_id"],
                    "lot_id": lt["id"],
                    "security_id": lt["security"],
                    "quantity": lt["quantity"],
                    "cost_basis": lt["cost_basis"],
                    "acquired_date": lt["acquired"],
                    "price": lt["price"],
                    "holding_days": (AS_OF - lt["acquired"]).days,
                    "is_long_term": (AS_OF - lt["acquired"]).days > 365,
                }
                for lt in lots
            ],
            t.TAX_LOTS,
        ),
        "holdings": _frame(
            [
                {
                    "account_id": account_id,
                    "security_id": security_id,
                    "quantity": quantity,
                    "price": by_id[security_id]["price"],
                    "asset_class": by_id[security_id]["asset_class"],
                    "identical_group": by_id[security_id]["identical_group"],
                }
                for (account_id, security_id), quantity in holdings.items()
            ],
            t.HOLDINGS,
        ),
        "security_prices": _frame(
            [{"security_id": s["id"], "close": s["price"]} for s in securities], t.SECURITY_PRICES
        ),
        "restricted_securities": _frame(
            [
                {"account_id": r["account"], "security_id": s["id"], "restriction_id": "R1"}
                for r in restrictions
                for s in securities
                if s["sector"] == r.get("sector") or s["id"] == r.get("security")
            ],
            t.RESTRICTED_SECURITIES,
        ),
        "wash_sale_windows": _frame(
            [_window(tx, households, by_id) for tx in transactions], t.WASH_SALE_WINDOWS
        ),
        "mandates": _frame(
            [
                {
                    "account_id": c["account"],
                    "mandate": "cash_request",
                    "priority": "high",
                    "amount": c["amount"],
                }
                for c in cash_requests
            ],
            t.MANDATES,
        ),
        "active_halts": _frame([{"security_id": s} for s in halts], t.ACTIVE_HALTS),
        "untradable_securities": _frame(
            [{"security_id": s, "checks": "price_jump"} for s in untradable],
            t.UNTRADABLE_SECURITIES,
        ),
    }
    canonical = {
        "securities": _frame(
            [{**s, "security_id": s["id"], "symbol": s["id"][4:]} for s in securities],
            t.SECURITIES,
        ),
        "model_targets": _frame(
            [
                {"model_id": m, "security_id": s, "target_weight": w}
                for m, spec in models.items()
                for s, w in spec["targets"].items()
            ],
            t.MODEL_TARGETS,
        ),
        "model_bands": _frame(
            [
                {"model_id": m, "asset_class": c, "min_weight": lo, "max_weight": hi}
                for m, spec in models.items()
                for c, (lo, hi) in spec["bands"].items()
            ],
            t.MODEL_BANDS,
        ),
        "prices": t.empty(t.PRICES),  # no history: the default risk model
        "price_history": t.empty(t.PRICES),
    }
    return features, canonical


def _window(tx: dict, households: dict[str, str], by_id: dict[str, dict]) -> dict:
    """A transaction's wash-sale window (the tests only pass taxable loss sales and buys)."""
    return {
        "household_id": households[tx["account"]],
        "identical_group": by_id[tx["security"]]["identical_group"],
        "blocks": "buy" if tx["side"] == "sell" else "loss_sale",
        "window_start": tx["date"],
        "window_end": tx["date"] + dt.timedelta(days=30),
        "source_account_id": tx["account"],
        "source_security_id": tx["security"],
        "source_transaction_id": f"T-{tx['account']}-{tx['date']}",
    }


def _frame(rows: list[dict], schema: pl.Schema) -> pl.DataFrame:
    if not rows:
        return t.empty(schema)
    keys = {k for row in rows for k in row}
    frame = pl.DataFrame(rows, schema={k: schema.get(k, pl.Object) for k in keys if k in schema})
    return t.conform(frame, schema)


def problems_for(policy: Policy | None = None, **book) -> list[AccountProblem]:
    features, canonical = build_inputs(**book)
    return build_problems(features, canonical, policy or Policy())
