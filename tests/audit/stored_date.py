"""A small stored date written straight into a home folder, one account per route.

Imported by the audit tests (pytest puts this folder on sys.path).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline import tables as t
from rebalance_pipeline.export.trade_files import write_trade_files
from rebalance_pipeline.routing.route import RELEASED_TRADES, REVIEW_QUEUE

DAY = dt.date(2026, 3, 16)
TRADED, SUSPENDED, HELD, BELOW, MANUAL, REVIEWED = (
    "A-TRADE",
    "A-SUSP",
    "A-HOLD",
    "A-LOW",
    "A-MAN",
    "A-REV",
)
ACCOUNT_FACTS = {  # account: (custodian, household, total value, cash)
    TRADED: ("alpha", "H1", 500_000.0, 20_000.0),
    SUSPENDED: ("alpha", "H1", 80_000.0, 1_000.0),
    HELD: ("beta", "H2", 300_000.0, 5_000.0),
    BELOW: ("beta", "H2", 400_000.0, 8_000.0),
    MANUAL: ("alpha", "H3", 60_000.0, 1_000.0),
    REVIEWED: ("beta", "H3", 2_000_000.0, 50_000.0),
}


def decision(account, route, reasons, rule, score=None, threshold=None, days=None, review=None):
    group = "mid" if ACCOUNT_FACTS[account][2] >= 1_000_000 else "small"
    return {
        "account_id": account,
        "route": route,
        "reasons": reasons,
        "rule": rule,
        "account_group": group,
        "review_policy": "outliers" if group == "mid" else "none",
        "review": review,
        "outlier_flags": ["turnover"] if review == "review" else [],
        "score_bps": score,
        "threshold_bps": threshold,
        "days_since_last_trade": days,
    }


DECISIONS = [
    decision(TRADED, "MANDATE", ["band_breach_normal"], "mandate: band breach", 30.0, 15.0,
             review="auto"),
    decision(SUSPENDED, "SUSPENDED", ["bad_data", "data:malformed_number"],
             "bad data: suspended until fixed"),
    decision(HELD, "HOLD", ["account_hold"], "active hold: client request"),
    decision(BELOW, "NO_TRADE", ["score_below_threshold"],
             "score 40.0 bps under the threshold 96.9 bps", 40.0, 96.8814, days=30),
    decision(MANUAL, "MANUAL", ["bad_data_cash_request"], "bad data and a due cash request"),
    decision(REVIEWED, "SCORE", ["score_above_threshold"], "score clears the threshold",
             50.0, 15.0, review="review"),
]  # fmt: skip


def released_rows(rows):
    frame = pl.DataFrame(
        rows,
        schema=["account_id", "security_id", "side", "quantity", "price", "lot_id", "reason"],
        orient="row",
    ).with_columns(
        (pl.col("quantity") * pl.col("price")).alias("amount"),
        pl.lit("MANDATE").alias("route"),
        pl.lit("auto").alias("review"),
    )
    return t.conform(frame, RELEASED_TRADES)


RELEASED = [
    (TRADED, "SEC-B", "buy", 10.0, 50.0, None, "band_breach_normal"),
    (TRADED, "SEC-A", "sell", 5.0, 100.0, "A-TRADE-L1", "band_breach_normal"),
]


def accounts_frame() -> pl.DataFrame:
    rows = [
        {"account_id": a, "custodian": c, "household_id": h, "registration": "taxable"}
        for a, (c, h, _, _) in ACCOUNT_FACTS.items()
    ]
    return t.conform(pl.DataFrame(rows), t.ACCOUNTS)


SECURITIES = t.conform(
    pl.DataFrame({"security_id": ["SEC-A", "SEC-B"], "symbol": ["AAA", "BBB"]}), t.SECURITIES
)


def export_batch(home: Path, released: pl.DataFrame) -> str:
    """Write the date's trade files as the export does and record the batch it wrote."""
    manifest = write_trade_files(
        released, accounts_frame(), SECURITIES, home / "trades" / DAY.isoformat(), DAY
    )
    files = pl.DataFrame(
        {"batch_id": [manifest.batch_id] * len(manifest.files)}, schema={"batch_id": pl.String}
    )
    storage.write_partition(files, "trade_files", DAY, home)
    return manifest.batch_id


def write(home: Path, table: str, rows: list[dict], schema: pl.Schema) -> None:
    frame = pl.DataFrame(rows, schema_overrides=schema) if rows else t.empty(schema)
    storage.write_partition(t.conform(frame, schema), table, DAY, home)


def finding(finding_id, check, severity, accounts, source_file, row, message):
    return {
        "finding_id": finding_id,
        "trade_date": DAY,
        "check": check,
        "severity": severity,
        "custodian": "alpha",
        "source_file": source_file,
        "source_row": row,
        "account_ids": accounts,
        "message": message,
    }


def result(account, score_bps, value):
    return {
        "account_id": account,
        "solve_status": "optimal",
        "account_value": value,
        "cash_before": 20_000.0,
        "cash_after": 5_000.0,
        "required_cash": 0.0,
        "score_usd": score_bps * value / 10_000,
        "score_bps": score_bps,
        "benefit_risk_usd": 1_600.0,
        "benefit_tax_loss_usd": 100.0,
        "benefit_quality_usd": 0.0,
        "cost_transaction_usd": 50.0,
        "cost_tax_usd": 150.0,
        "tracking_error_before": 0.02,
        "tracking_error_after": 0.005,
        "turnover_usd": 1_000.0,
        "realized_gain_st": -100.0,
        "realized_gain_lt": 0.0,
        "trade_count": 2,
        "touches_halted": False,
    }


def write_stored_date(home: Path) -> str:
    """Every table explain and diff read, for the six accounts; returns the batch id."""
    write(home, "routing_decisions", DECISIONS, t.ROUTING_DECISIONS)
    write(home, "accounts", accounts_frame().to_dicts(), t.ACCOUNTS)
    valuations = [
        {
            "account_id": a,
            "household_id": h,
            "custodian": c,
            "registration": "taxable",
            "model_id": "M1",
            "total_value": value,
            "cash": cash,
            "account_group": "mid" if value >= 1_000_000 else "small",
            "review_policy": "outliers" if value >= 1_000_000 else "none",
        }
        for a, (c, h, value, cash) in ACCOUNT_FACTS.items()
    ]
    write(home, "account_valuations", valuations, t.ACCOUNT_VALUATIONS)
    source_files = [
        {"custodian": "alpha", "kind": "lots", "source_file": "drops/alpha/lots.csv",
         "sha256": "a" * 64, "status": "ok", "detail_rows": 7},
        {"custodian": "alpha", "kind": "positions", "source_file": "drops/alpha/positions.csv",
         "sha256": "b" * 64, "status": "ok", "detail_rows": 6},
        {"custodian": "beta", "kind": "positions", "source_file": "drops/beta/POS.dat",
         "sha256": "c" * 64, "status": "ok", "detail_rows": 4},
    ]  # fmt: skip
    write(home, "source_files", source_files, t.SOURCE_FILES)
    findings = [
        finding("f1", "malformed_number", "error", [SUSPENDED], "drops/alpha/lots.csv", 4,
                "cost_basis '12,3.4x' is not a valid number"),
        finding("f2", "unknown_security", "error", [MANUAL], "drops/alpha/positions.csv", 3,
                "security XYZ is not in the master"),
        finding("f3", "stale_price", "warning", [TRADED, BELOW], None, None,
                "SEC-A close unchanged for 3 days"),
    ]  # fmt: skip
    write(home, "data_quality_issues", findings, t.FINDINGS)
    status = [
        {
            "account_id": a,
            "status": "suspended" if a in (SUSPENDED, MANUAL) else "ok",
            "reason_codes": {SUSPENDED: ["malformed_number"], MANUAL: ["unknown_security"]}.get(
                a, []
            ),
            "finding_ids": [],
        }
        for a in ACCOUNT_FACTS
    ]
    write(home, "account_status", status, t.ACCOUNT_STATUS)
    manual = {"account_id": MANUAL, "reason_codes": ["unknown_security"],
              "requested_amount": 50_000.0, "due_date": DAY, "cash_available": 1_000.0}  # fmt: skip
    write(home, "manual_queue", [manual], t.MANUAL_QUEUE)
    drift = {"account_id": TRADED, "model_id": "M1", "asset_class": "us_equity", "weight": 0.62,
             "target_weight": 0.55, "min_weight": 0.5, "max_weight": 0.6, "drift": 0.07,
             "breach": "above"}  # fmt: skip
    write(home, "asset_class_drift", [drift], t.ASSET_CLASS_DRIFT)
    lots = [
        {"account_id": TRADED, "lot_id": "A-TRADE-L1", "security_id": "SEC-A", "quantity": 5.0,
         "unrealized_gain": -100.0, "holding_days": 40, "is_long_term": False},
        {"account_id": TRADED, "lot_id": "A-TRADE-L2", "security_id": "SEC-B", "quantity": 2.5,
         "unrealized_gain": 300.0, "holding_days": 500, "is_long_term": True},
    ]  # fmt: skip
    write(home, "tax_lots", lots, t.TAX_LOTS)
    windows = [
        {"household_id": "H1", "identical_group": "GRP-X", "blocks": "buy",
         "window_start": DAY - dt.timedelta(days=10), "window_end": DAY + dt.timedelta(days=20),
         "source_account_id": SUSPENDED, "source_transaction_id": "T-ACTIVE",
         "gain_source": "lot_cost_basis"},
        {"household_id": "H9", "identical_group": "GRP-Y", "blocks": "buy",
         "window_start": DAY - dt.timedelta(days=5), "window_end": DAY + dt.timedelta(days=25),
         "source_account_id": "A-OTHER", "source_transaction_id": "T-OTHER-HOUSEHOLD",
         "gain_source": "unknown"},
    ]  # fmt: skip
    write(home, "wash_sale_windows", windows, t.WASH_SALE_WINDOWS)
    mandate = {"account_id": TRADED, "mandate": "band_breach", "priority": "normal",
               "asset_class": "us_equity",
               "detail": "us_equity 62.0% above [50%, 60%]"}  # fmt: skip
    write(home, "mandates", [mandate], t.MANDATES)
    days = {"account_id": BELOW, "last_trade_date": DAY - dt.timedelta(days=30),
            "last_custodian_trade_date": DAY - dt.timedelta(days=30),
            "days_since_last_trade": 30}  # fmt: skip
    write(home, "days_since_trade", [days], t.DAYS_SINCE_TRADE)
    holds = [
        {"account_id": HELD, "start_date": DAY - dt.timedelta(days=5),
         "end_date": DAY + dt.timedelta(days=5), "reason": "client request"},
        {"account_id": HELD, "start_date": DAY - dt.timedelta(days=40), "end_date": None,
         "reason": "estate settlement"},
    ]  # fmt: skip
    write(home, "active_holds", holds, t.ACTIVE_HOLDS)
    write(home, "restricted_securities", [], t.RESTRICTED_SECURITIES)
    problems = pl.DataFrame({"account_id": [TRADED, BELOW, REVIEWED]})
    storage.write_partition(problems, "optimization_problems", DAY, home)
    results = [result(TRADED, 30.0, 500_000.0), result(BELOW, 40.0, 400_000.0),
               result(REVIEWED, 50.0, 2_000_000.0)]  # fmt: skip
    write(home, "optimization_results", results, t.OPTIMIZATION_RESULTS)
    queued = {"account_id": REVIEWED, "security_id": "SEC-A", "side": "buy", "quantity": 40.0,
              "price": 100.0, "amount": 4_000.0, "route": "SCORE",
              "reason": "score_above_threshold", "review": "review"}  # fmt: skip
    write(home, "review_queue", [queued], REVIEW_QUEUE)
    return export_batch(home, released_rows(RELEASED))
