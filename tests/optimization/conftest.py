"""Small books in the acceptance scenarios' format, run through the real stages.

``build_inputs`` turns a book written as dicts (securities, models, accounts with lots,
cash requests, restrictions, halts, transactions, securities whose price is in doubt) into
a scenario, the scenario into a canonical ``Book`` (``scenario_book``), and the book
through validation and the feature SQL, as ``workflow.run_stages`` does: the optimizer
tests read the frames the daily pipeline produces, never a copy of its rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.features import SQL_DIR, discover_models, run_models
from rebalance_pipeline.optimization.problem import AccountProblem, build_problems
from rebalance_pipeline.policy import OptimizationPolicy, Policy, WorkflowPolicy
from rebalance_pipeline.scenario.adapter import scenario_book
from rebalance_pipeline.scenario.model import Scenario
from rebalance_pipeline.validation import validate_book
from rebalance_pipeline.workflow import feature_inputs

AS_OF = dt.date(2026, 3, 16)
SQL_MODELS = discover_models(SQL_DIR)


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
    *,
    policy: Policy | None = None,
    as_of: dt.date = AS_OF,
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """The feature frames and canonical tables of the book, as the daily stages make them.

    ``cash_requests`` are due today and high priority unless they say otherwise; ``halts``
    are in force today; a ``transactions`` sell is a loss sale (it opens a wash-sale
    window); an ``untradable`` security's close jumped since yesterday, which validation
    finds for the accounts holding it.
    """
    policy = policy or Policy()
    book = book_of(
        as_of, accounts, securities, models, cash_requests, restrictions, halts, transactions
    )
    book = dataclasses.replace(book, price_history=jumped_closes(book, untradable))
    validation = validate_book(book, policy)
    features = run_models(feature_inputs(book, validation), as_of, policy, SQL_MODELS)
    doubtful = set(features["untradable_securities"]["security_id"])
    assert set(untradable) <= doubtful, f"no holder makes {untradable} doubtful: {doubtful}"
    return features, book.tables()


def book_of(
    as_of: dt.date,
    accounts: list[dict],
    securities: list[dict],
    models: dict | None,
    cash_requests: list[dict],
    restrictions: list[dict],
    halts: list[str],
    transactions: list[dict],
) -> Book:
    price = {s["id"]: s["price"] for s in securities}
    scenario = Scenario.model_validate(
        {
            "name": "optimizer test book",
            "as_of": as_of,
            "securities": [{"symbol": s["id"][4:], **s} for s in securities],
            "models": models or {"M-BAL": BALANCED},
            "accounts": accounts,
            "cash_requests": [{"priority": "high", "due": as_of, **c} for c in cash_requests],
            "restrictions": list(restrictions),
            "halts": [
                {
                    "security": s,
                    "start": as_of - dt.timedelta(days=3),
                    "end": as_of + dt.timedelta(days=3),
                }
                for s in halts
            ],
            "transactions": [
                {"quantity": 10.0, "price": price[tx["security"]], **_realized(tx), **tx}
                for tx in transactions
            ],
        }
    )
    return scenario_book(scenario)


def _realized(tx: dict) -> dict:
    """A sell realized a loss (it opens a wash-sale window), a buy realizes nothing."""
    return {"realized_gain": -1000.0} if tx["side"] == "sell" else {}


def jumped_closes(book: Book, securities: list[str]) -> pl.DataFrame:
    """Yesterday's closes of ``securities``, at half of today's: a price jump."""
    today = book.prices.filter(pl.col("security_id").is_in(list(securities)))
    return t.conform(
        today.with_columns(pl.col("price_date") - dt.timedelta(days=1), pl.col("close") / 2),
        t.PRICES,
    )


def problems_for(
    policy: Policy | None = None, as_of: dt.date = AS_OF, **book
) -> list[AccountProblem]:
    policy = policy or Policy()
    features, canonical = build_inputs(**book, policy=policy, as_of=as_of)
    return build_problems(features, canonical, policy)
