"""Each shipped model on the hand-built book of features_book.py, values computed by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
from features_book import AS_OF, book_tables

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.features import FEATURE_SCHEMAS, run_models
from rebalance_pipeline.policy import AccountGroup, Policy, ValidationPolicy

D = dt.date.fromisoformat


def rows(frame: pl.DataFrame, *columns: str) -> list[tuple]:
    return list(frame.select(columns).iter_rows())


def test_every_output_matches_its_schema(features):
    assert set(features) == set(FEATURE_SCHEMAS)
    for name, schema in FEATURE_SCHEMAS.items():
        assert features[name].schema == schema, name


def test_security_prices_take_the_dates_close_of_the_first_custodian(features):
    # S_US1: alpha 100 beats beta 105; S_BOND has no usable close today (yesterday's 10
    # does not count); the unknown security's row is dropped.
    assert rows(features["security_prices"], "security_id", "close") == [
        ("S_INTL", 20.0),
        ("S_US1", 100.0),
        ("S_US2", 50.0),
    ]


def test_a_close_from_a_file_untrusted_whole_is_never_used(models):
    """alpha's prices file has a finding about the whole file (cut short, stale, ...):
    beta's close of S_US1 is the date's, and nothing else alpha sent is used."""
    tables = book_tables()
    prices = tables["prices"].with_columns(
        source_file=pl.format("drops/{}/prices.csv", pl.col("custodian"))
    )
    untrusted = t.conform(
        pl.DataFrame(
            {
                "check": ["truncated_file"],
                "source_file": ["drops/alpha/prices.csv"],
                "source_row": [None],
                "account_ids": [["A1"]],
            }
        ),
        t.FINDINGS,
    )
    tables |= {"prices": prices, "data_quality_issues": untrusted}
    closes = run_models(tables, AS_OF, Policy(), models)["security_prices"]
    assert rows(closes, "security_id", "close") == [("S_US1", 105.0)]


def test_account_valuations_keep_every_account_with_its_status(features):
    valuations = features["account_valuations"]
    assert rows(valuations, "account_id", "status", "cash", "market_value", "total_value") == [
        # 60*100 + 20*50 + 50*20 + 100 unpriced bonds (0) + 10 unknown (0); cash 1500+500
        ("A1", "ok", 2000.0, 8000.0, 10000.0),
        ("A2", "ok", 0.0, 5000.0, 5000.0),
        ("A3", "suspended", 25000.0, 0.0, 25000.0),
        ("A4", "ok", 3000.0, 0.0, 3000.0),
        ("A5", "ok", 0.0, 0.0, 0.0),
    ]
    # every value is below the default small group's 1M
    assert rows(valuations, "account_group", "review_policy") == [("small", "none")] * 5


def test_account_groups_by_value_and_registration(models):
    policy = Policy(
        account_groups=[
            AccountGroup(
                name="ira", max_value=5000, registrations=["traditional_ira", "roth"], review="all"
            ),
            AccountGroup(name="small", max_value=5000, review="none"),
            AccountGroup(name="mid", min_value=5000, max_value=20000, review="outliers"),
            AccountGroup(name="big", min_value=20000, review="all"),
        ]
    )
    valuations = run_models(book_tables(), AS_OF, policy, models)["account_valuations"]
    assert rows(valuations, "account_id", "account_group", "review_policy") == [
        ("A1", "mid", "outliers"),  # 10_000
        ("A2", "mid", "outliers"),  # IRA at exactly 5_000: max_value is exclusive
        ("A3", "big", "all"),  # 25_000
        ("A4", "ira", "all"),  # Roth at 3_000: the first matching group wins over small
        ("A5", "small", "none"),  # taxable at 0
    ]


def test_account_without_a_matching_group_falls_to_the_last_like_policy(models):
    policy = Policy(account_groups=[AccountGroup(name="positive", min_value=1.0)])
    valuations = run_models(book_tables(), AS_OF, policy, models)["account_valuations"]
    a5 = valuations.filter(pl.col("account_id") == "A5")
    assert a5["account_group"].to_list() == [policy.group_for(0.0, "taxable").name]


def test_holdings_are_known_securities_with_weights(features):
    assert rows(
        features["holdings"], "account_id", "security_id", "price", "market_value", "weight"
    ) == [
        ("A1", "S_BOND", None, None, None),
        ("A1", "S_INTL", 20.0, 1000.0, 0.1),
        ("A1", "S_US1", 100.0, 6000.0, 0.6),
        ("A1", "S_US2", 50.0, 1000.0, 0.1),
        ("A2", "S_INTL", 20.0, 5000.0, 1.0),
    ]
    a1_us1 = features["holdings"].row(2, named=True)
    assert (a1_us1["asset_class"], a1_us1["sector"], a1_us1["identical_group"]) == (
        "us_equity",
        "Tech",
        "SP500",
    )
    # a null identical_group means identical only to itself
    a1_us2 = features["holdings"].row(3, named=True)
    assert a1_us2["identical_group"] == "S_US2"


def test_asset_class_drift_and_breaches(features):
    drift = features["asset_class_drift"].with_columns(
        pl.col("weight", "drift").round(10), pl.col("target_weight").round(10)
    )
    assert rows(
        drift,
        "account_id",
        "asset_class",
        "weight",
        "target_weight",
        "min_weight",
        "max_weight",
        "drift",
        "breach",
    ) == [
        ("A1", "intl_equity", 0.1, 0.2, None, None, -0.1, None),
        ("A1", "us_bonds", 0.0, 0.3, 0.25, 0.35, -0.3, "below"),  # unpriced bonds count 0
        ("A1", "us_equity", 0.7, 0.5, 0.45, 0.55, 0.2, "above"),
        ("A2", "intl_equity", 1.0, 0.2, None, None, 0.8, None),
        ("A2", "us_bonds", 0.0, 0.3, 0.25, 0.35, -0.3, "below"),
        ("A2", "us_equity", 0.0, 0.5, 0.45, 0.55, -0.5, "below"),
        ("A3", "us_bonds", 0.0, 1.0, None, None, -1.0, None),
        ("A4", "us_bonds", 0.0, 1.0, None, None, -1.0, None),
        ("A5", "us_bonds", None, 1.0, None, None, None, None),  # no value: no weight
    ]


def test_weight_on_a_band_edge_is_not_a_breach(models):
    tables = book_tables()
    # A2 holds 250 S_INTL @20 = 5000; band intl_equity [0%, 100%] with weight exactly 1.0,
    # and 0.1 + 0.2 style float noise on the max edge
    tables["model_bands"] = pl.concat(
        [
            tables["model_bands"],
            pl.DataFrame(
                {
                    "model_id": ["M1"],
                    "asset_class": ["intl_equity"],
                    "min_weight": [0.1 + 0.2],
                    "max_weight": [1.0],
                },
                schema=tables["model_bands"].schema,
            ),
        ]
    )
    drift = run_models(tables, AS_OF, Policy(), models)["asset_class_drift"]
    intl = drift.filter(pl.col("asset_class") == "intl_equity")
    # A1 at 0.1 is below 0.3; A2 at exactly 1.0 is inside [0.3, 1.0]
    assert rows(intl, "account_id", "breach") == [("A1", "below"), ("A2", None)]


def test_tax_lots_gains_and_the_one_year_boundary(features):
    assert rows(
        features["tax_lots"],
        "lot_id",
        "market_value",
        "unrealized_gain",
        "holding_days",
        "is_long_term",
    ) == [
        # acquired 2025-03-16: exactly one year on 2026-03-16 -> still short-term
        ("L1", 4000.0, 1000.0, 365, False),
        # acquired 2025-03-15: more than one year -> long-term; 20*100 - 2500
        ("L2", 2000.0, -500.0, 366, True),
        # L3 (no close today) and L4 (unknown security) are not valued
    ]


def test_wash_sale_windows_active_on_the_date(features):
    windows = features["wash_sale_windows"]
    assert rows(
        windows,
        "household_id",
        "identical_group",
        "blocks",
        "window_start",
        "window_end",
        "source_account_id",
        "source_security_id",
        "source_transaction_id",
    ) == [
        # T1: taxable loss sale 30 days ago still blocks buys of SP500 across H1, which
        # includes the IRA A2. T2 (31 days ago) has expired; T3, a loss inside the IRA,
        # opens nothing; T5 is a gain.
        ("H1", "SP500", "buy", D("2026-02-14"), AS_OF, "A1", "S_US1", "T1"),
        # T4: a buy in the Roth blocks loss sales of the group in the household
        ("H2", "S_BOND", "loss_sale", D("2026-03-01"), D("2026-03-31"), "A4", "S_BOND", "T4"),
    ]


def test_loss_sale_in_taxable_blocks_a_buy_in_the_households_ira(features):
    accounts = book_tables()["accounts"]
    blocked_buys = (
        features["wash_sale_windows"]
        .filter(pl.col("blocks") == "buy")
        .join(accounts.select("account_id", "household_id", "registration"), on="household_id")
    )
    assert ("A2", "traditional_ira", "SP500") in rows(
        blocked_buys, "account_id", "registration", "identical_group"
    )


def test_a_recent_buy_anywhere_in_the_household_blocks_a_loss_sale(models):
    tables = book_tables()
    # A2 (IRA, H1) bought S_US2 eleven days ago: the taxable A1 may not sell it at a loss
    buy = t.conform(
        pl.DataFrame(
            {
                "transaction_id": ["T8"],
                "account_id": ["A2"],
                "trade_date": [D("2026-03-05")],
                "type": ["buy"],
                "security_id": ["S_US2"],
            }
        ),
        t.TRANSACTIONS,
    )
    tables["transactions"] = pl.concat([tables["transactions"], buy])
    windows = run_models(tables, AS_OF, Policy(), models)["wash_sale_windows"]
    assert rows(
        windows.filter(pl.col("source_transaction_id") == "T8"),
        "household_id",
        "identical_group",
        "blocks",
        "window_end",
    ) == [("H1", "S_US2", "loss_sale", D("2026-04-04"))]


def test_sell_gains_come_from_the_first_source_that_knows(models):
    """Each sells 10 S_US1 at 100 from A1 on 2026-03-10: proceeds 1,000."""
    tables = book_tables()
    sells = [  # id, delivered gain, delivered cost basis, lot
        ("G1", 50.0, 2000.0, "L1"),  # the custodian's gain wins
        ("G2", None, 1200.0, "L1"),  # 1,000 - 1,200
        ("G3", None, None, "SOLD"),  # the day before's file: 1,000 - 3,000 x 10 / 20
        ("G4", None, None, "L1"),  # partly sold, today's L1: 1,000 - 3,000 x 10 / 40
        ("G5", None, None, "GONE"),  # in no lots file
        ("G6", None, None, None),  # names no lot
    ]
    tables["transactions"] = t.conform(
        pl.DataFrame(
            {
                "transaction_id": [s[0] for s in sells],
                "account_id": "A1",
                "trade_date": D("2026-03-10"),
                "type": "sell",
                "security_id": "S_US1",
                "quantity": 10.0,
                "price": 100.0,
                "realized_gain": [s[1] for s in sells],
                "cost_basis": [s[2] for s in sells],
                "lot_id": [s[3] for s in sells],
            }
        ),
        t.TRANSACTIONS,
    )
    tables["sold_lots"] = t.conform(
        pl.DataFrame(
            {
                # the latest file before the sale counts; a file after it does not
                "file_date": [D("2026-03-05"), D("2026-03-09"), D("2026-03-12")],
                "account_id": "A1",
                "lot_id": "SOLD",
                "quantity": [20.0, 20.0, 10.0],
                "cost_basis": [1000.0, 3000.0, 99999.0],
            }
        ),
        t.SOLD_LOTS,
    )
    outputs = run_models(tables, AS_OF, Policy(), models)
    assert rows(outputs["sell_gains"], "transaction_id", "realized_gain", "gain_source") == [
        ("G1", 50.0, "delivered_gain"),
        ("G2", -200.0, "delivered_cost_basis"),
        ("G3", -500.0, "lot_cost_basis"),
        ("G4", 250.0, "lot_cost_basis"),
        ("G5", None, "unknown"),
        ("G6", None, "unknown"),
    ]
    windows = outputs["wash_sale_windows"]
    # a negative or unknown gain opens a window, a known positive one does not
    assert rows(
        windows.filter(pl.col("blocks") == "buy"), "source_transaction_id", "gain_source"
    ) == [
        ("G2", "delivered_cost_basis"),
        ("G3", "lot_cost_basis"),
        ("G5", "unknown"),
        ("G6", "unknown"),
    ]


def test_days_since_trade(features):
    assert rows(
        features["days_since_trade"],
        "account_id",
        "last_custodian_trade_date",
        "last_firm_trade_date",
        "last_trade_date",
        "days_since_last_trade",
    ) == [
        ("A1", D("2026-03-12"), D("2026-02-01"), D("2026-03-12"), 4),
        ("A2", D("2026-03-10"), None, D("2026-03-10"), 6),
        # the deposit and the buy after the date are not custodian trades of the date
        ("A3", None, D("2026-03-15"), D("2026-03-15"), 1),
        ("A4", D("2026-03-01"), D("2026-03-05"), D("2026-03-05"), 11),
        ("A5", None, None, None, None),
    ]


def test_restricted_securities_by_household_sector_and_account_security(features):
    assert rows(
        features["restricted_securities"], "account_id", "security_id", "restriction_id"
    ) == [
        ("A1", "S_US2", "R1"),
        ("A2", "S_US2", "R1"),
        ("A3", "S_INTL", "R2"),
    ]


def test_mandates(features):
    assert rows(
        features["mandates"],
        "account_id",
        "mandate",
        "priority",
        "amount",
        "security_id",
        "asset_class",
        "detail",
    ) == [
        ("A1", "band_breach", "normal", None, None, "us_bonds", "us_bonds 0.0% below [25%, 35%]"),
        (
            "A1",
            "band_breach",
            "normal",
            None,
            None,
            "us_equity",
            "us_equity 70.0% above [45%, 55%]",
        ),
        ("A1", "cash_request", "high", 1500.0, None, None, "request C1 due 2026-03-16"),
        ("A1", "restriction", "normal", None, "S_US2", None, "holds restricted S_US2 (R1)"),
        ("A2", "band_breach", "normal", None, None, "us_bonds", "us_bonds 0.0% below [25%, 35%]"),
        ("A2", "band_breach", "normal", None, None, "us_equity", "us_equity 0.0% below [45%, 55%]"),
        # C2 is not yet due, C3 asks for nothing; A3 does not hold its restricted S_INTL
    ]


def test_active_holds_and_halts_include_both_end_dates(features):
    assert rows(features["active_holds"], "account_id", "reason") == [("A1", "client call")]
    assert rows(features["active_halts"], "security_id", "reason") == [("S_US1", "news pending")]


def test_outputs_do_not_depend_on_input_row_order(models, features):
    shuffled = {
        name: frame.sample(fraction=1.0, shuffle=True, seed=7)
        for name, frame in book_tables().items()
    }
    again = run_models(shuffled, AS_OF, Policy(), models)
    for name, frame in features.items():
        assert again[name].equals(frame), name


def test_an_empty_book_gives_empty_tables_with_their_schemas(models):
    empty_book = {
        **Book.from_frames(AS_OF).tables(),
        "account_status": t.empty(t.ACCOUNT_STATUS),
        "data_quality_issues": t.empty(t.FINDINGS),
    }
    outputs = run_models(empty_book, AS_OF, Policy(), models)
    for name, schema in FEATURE_SCHEMAS.items():
        assert outputs[name].is_empty(), name
        assert outputs[name].schema == schema, name


def test_duplicate_lot_rows_keep_a_fixed_order(models):
    tables = book_tables()
    lots = tables["lots"]
    # the same lot id sent twice with different quantities (a custodian fault)
    duplicate = lots.filter(pl.col("lot_id") == "L1").with_columns(pl.col("quantity") * 0.5)
    first = run_models({**tables, "lots": pl.concat([lots, duplicate])}, AS_OF, Policy(), models)
    second = run_models({**tables, "lots": pl.concat([duplicate, lots])}, AS_OF, Policy(), models)
    assert first["tax_lots"].equals(second["tax_lots"])
    assert first["tax_lots"].filter(pl.col("lot_id") == "L1")["quantity"].to_list() == [20.0, 40.0]


def test_windows_move_with_the_date(models):
    # one day later T1's window (ending 2026-03-16) has closed
    windows = run_models(book_tables(), D("2026-03-17"), Policy(), models)["wash_sale_windows"]
    assert "T1" not in windows["source_transaction_id"].to_list()
    assert "T4" in windows["source_transaction_id"].to_list()


def test_an_account_without_position_rows_is_valued_at_its_lots(models):
    """A positions file without the account's rows must not value it at its cash alone."""
    tables = book_tables()
    tables["positions"] = tables["positions"].filter(pl.col("account_id") != "A1")
    without = run_models(tables, AS_OF, Policy(), models)
    a1 = without["account_valuations"].filter(pl.col("account_id") == "A1").row(0, named=True)
    # A1's lots: 40 + 20 S_US1 at 100; 100 S_BOND without a close today and 10 of an
    # unknown security count 0; cash 1,500 + 500
    assert (a1["market_value"], a1["cash"], a1["total_value"]) == (6000.0, 2000.0, 8000.0)


def _budget_rows(policy: Policy, models, extra_sells: list[tuple]) -> list[tuple]:
    """gain_budgets on the book with more sells (id, account, date, realized gain)."""
    tables = book_tables()
    added = pl.DataFrame(
        {
            "transaction_id": [s[0] for s in extra_sells],
            "account_id": [s[1] for s in extra_sells],
            "trade_date": [D(s[2]) for s in extra_sells],
            "type": "sell",
            "security_id": "S_US1",
            "realized_gain": [s[3] for s in extra_sells],
        },
        schema_overrides={"realized_gain": pl.Float64},
    )
    tables["transactions"] = t.conform(
        pl.concat([tables["transactions"], t.conform(added, t.TRANSACTIONS)]), t.TRANSACTIONS
    )
    budgets = run_models(tables, AS_OF, policy, models)["gain_budgets"]
    return rows(
        budgets, "account_id", "gain_budget_usd", "realized_gain_ytd", "year_complete",
        "remaining_gain_budget_usd",
    )  # fmt: skip


def _budgeted(**validation) -> Policy:
    groups = [AccountGroup(name="all", gain_budget_usd=1000.0)]
    return Policy(account_groups=groups, validation=ValidationPolicy(**validation))


# A1's year: T1 -200, T2 -100, T5 +50 of the book, a released sell the custodian does not
# show yet (+400); its sell of last December does not count
A1_SELLS = [
    ("pending:B1:A1:S_US1:sell:L1", "A1", "2026-03-13", 400.0),
    ("T-DEC", "A1", "2025-12-30", 999.0),
]


def test_gain_budgets_net_the_year_s_realized_gains_against_the_budget(models):
    """Losses extend the budget; only taxable accounts have one; A3's sell of unknown
    gain leaves its year not fully seen: no room today."""
    unknown = ("T-UNK", "A3", "2026-03-02", None)
    assert _budget_rows(_budgeted(), models, [*A1_SELLS, unknown]) == [
        ("A1", 1000.0, 150.0, True, 850.0),
        ("A2", None, -300.0, True, None),  # IRA
        ("A3", 1000.0, 0.0, False, 0.0),
        ("A4", None, 0.0, True, None),  # Roth
        ("A5", 1000.0, 0.0, True, 1000.0),
    ]


def test_a_lookback_short_of_january_leaves_no_room_for_net_gains(models):
    """20 business days before 2026-03-16 start in February: the year is not seen whole."""
    budgets = _budget_rows(_budgeted(lookback_business_days=20), models, A1_SELLS)
    assert budgets[0] == ("A1", 1000.0, 150.0, False, 0.0)


def test_no_gain_budget_by_default(models):
    budgets = _budget_rows(Policy(), models, A1_SELLS)
    assert [(row[0], row[1], row[4]) for row in budgets] == [
        (account, None, None) for account in ("A1", "A2", "A3", "A4", "A5")
    ]


def test_transition_progress_of_the_accounts_in_transition(models):
    """A1 is in transition from 14 February, A2 only from after the date, the others not:
    A1 holds 6,000 S_US1, 1,000 INTL and S_BOND (no close) of its model and 1,000 S_US2,
    which the model gives a weight of 0; of the year's sells T1 (-200, 14 February) and T5
    (+50) are since its start, T2 (-100, the day before) is not; its budget left is the
    year's 1,000 less -250."""
    tables = book_tables()
    start = {"A1": D("2026-02-14"), "A2": D("2026-03-17")}
    tables["accounts"] = tables["accounts"].with_columns(
        transition_start=pl.col("account_id").replace_strict(start, default=None)
    )
    tables["model_targets"] = tables["model_targets"].with_columns(
        target_weight=pl.when(pl.col("security_id") == "S_US2")
        .then(0.0)
        .otherwise(pl.col("target_weight"))
    )
    progress = run_models(tables, AS_OF, _budgeted(), models)["transition_progress"]
    assert progress.rows() == [
        ("A1", D("2026-02-14"), 10_000.0, 7_000.0, 1_000.0, 0.7, -150.0, True, 1_000.0, 1_250.0)
    ]


def test_no_account_is_in_transition_by_default(features):
    assert features["transition_progress"].is_empty()
