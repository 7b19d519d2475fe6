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
from stage_books import (  # noqa: F401  (the books the optimizer tests write)
    BALANCED,
    SECURITIES,
    account,
    at_target_lots,
    lot,
    security,
)

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.features import SQL_DIR, discover_models, run_models
from rebalance_pipeline.optimization.problem import AccountProblem
from rebalance_pipeline.optimization.problem_table import build_problems
from rebalance_pipeline.policy import OptimizationPolicy, Policy, WorkflowPolicy
from rebalance_pipeline.scenario.adapter import scenario_book
from rebalance_pipeline.scenario.model import Scenario
from rebalance_pipeline.validation import validate_book
from rebalance_pipeline.workflow import feature_inputs

AS_OF = dt.date(2026, 3, 16)
SQL_MODELS = discover_models(SQL_DIR)


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
