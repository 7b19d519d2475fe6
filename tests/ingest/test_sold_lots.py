"""A sell the custodian sends without a gain (birch never fills GAIN_AMT): its lot is gone
from today's lots file, and ingest reads it from the lots file of the business day before
the sale, only that file and only that lot.

The book, written here: household H1 at birch. The taxable A1 sold its whole lot A1-L-TMKT
(1,120 TMKT, cost $298,800) at $240 on 2026-03-06, ten days before 2026-03-16; the IRA A2
wants 35% TMKT (identical group TOTAL_US with TMK2) and holds none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import builtin_custodians as f
import polars as pl
import pytest
from builtin_custodians import detail_lines, file_bytes, to_text

from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.generator.render import MARK
from rebalance_pipeline.ingest import load_book
from rebalance_pipeline.ingest.custodians import adapter
from rebalance_pipeline.ingest.custodians import birch as birch_pipe
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.workflow import run_stages

AS_OF = dt.date(2026, 3, 16)
SALE = dt.date(2026, 3, 6)
DAY_BEFORE_SALE = dt.date(2026, 3, 5)
EARLIER = dt.date(2026, 3, 4)
SINCE = dt.date(2020, 1, 1)
D = dt.date.fromisoformat
TOTAL_US = {"SEC-TMKT", "SEC-TMK2"}

SECURITIES = [  # id, symbol, asset class, identical group, close
    ("SEC-TMKT", "TMKT", "us_equity", "TOTAL_US", 250.0),
    ("SEC-TMK2", "TMK2", "us_equity", "TOTAL_US", 50.0),
    ("SEC-LCAP", "LCAP", "us_equity", "LARGE_US", 120.0),
    ("SEC-INTL", "INTL", "intl_equity", "INTL", 50.0),
    ("SEC-BOND", "BOND", "us_bonds", "AGG_BOND", 80.0),
    ("SEC-BND2", "BND2", "us_bonds", "TOTAL_BOND", 100.0),
]
LOTS = [  # account, lot, symbol, quantity, cost basis
    ("A1", "A1-L-LCAP", "LCAP", 3333.0, 319968.0),
    ("A1", "A1-L-INTL", "INTL", 1600.0, 64000.0),
    ("A1", "A1-L-BOND", "BOND", 2500.0, 160000.0),
    ("A1", "A1-L-BND2", "BND2", 1200.0, 96000.0),
    ("A2", "A2-L-LCAP", "LCAP", 1167.0, 112032.0),
    ("A2", "A2-L-INTL", "INTL", 800.0, 32000.0),
    ("A2", "A2-L-BOND", "BOND", 1750.0, 112000.0),
    ("A2", "A2-L-BND2", "BND2", 800.0, 64000.0),
]
SOLD_LOT = ("A1", "A1-L-TMKT", "TMKT", 1120.0, 298800.0)


def write_firm(root: Path) -> None:
    firm = root / "firm"
    firm.mkdir(parents=True)
    frames = {
        "accounts": pl.DataFrame(
            {
                "account_id": ["A1", "A2"],
                "household_id": ["H1", "H1"],
                "custodian": ["birch", "birch"],
                "registration": ["taxable", "traditional_ira"],
                "model_id": ["M-BAL", "M-BAL"],
                "st_rate": [0.37, 0.0],
                "lt_rate": [0.2, 0.0],
                "opened_date": [SINCE, SINCE],
                "effective_from": [SINCE, SINCE],
            }
        ),
        "securities": pl.DataFrame(
            {
                "security_id": [s[0] for s in SECURITIES],
                "symbol": [s[1] for s in SECURITIES],
                "asset_class": [s[2] for s in SECURITIES],
                "sector": "Broad Market",
                "rating": 4,
                "round_lot": 1,
                "identical_group": [s[3] for s in SECURITIES],
                "effective_from": SINCE,
            }
        ),
        "model_targets": pl.DataFrame(
            {
                "model_id": "M-BAL",
                "security_id": ["SEC-TMKT", "SEC-LCAP", "SEC-INTL", "SEC-BOND", "SEC-BND2"],
                "target_weight": [0.35, 0.15, 0.1, 0.25, 0.15],
                "effective_from": SINCE,
            }
        ),
        "model_bands": pl.DataFrame(
            {
                "model_id": "M-BAL",
                "asset_class": ["us_equity", "intl_equity", "us_bonds"],
                "min_weight": [0.45, 0.05, 0.35],
                "max_weight": [0.55, 0.15, 0.45],
                "effective_from": SINCE,
            }
        ),
    }
    for name, frame in frames.items():
        frame.write_csv(firm / f"{name}.csv")
    headers = {
        "restrictions": "restriction_id,account_id,household_id,security_id,sector,reason,"
        "effective_from,effective_to",
        "cash_requests": "request_id,account_id,amount,priority,due_date,created_date",
        "holds": "account_id,start_date,end_date,reason",
        "halts": "security_id,start_date,end_date,reason",
    }
    for name, header in headers.items():
        (firm / f"{name}.csv").write_text(header + "\n")


def write_drop(root: Path, kind: str, day: dt.date, rows: list[dict]) -> None:
    """A healthy birch file of ``kind`` for ``day`` with ``rows`` (canonical columns)."""
    columns = {
        birch_pipe.TO_CANONICAL[name] for name in birch_pipe.FIELDS[kind] if name != "QTY_SIGN"
    }
    frame = pl.DataFrame(rows, schema=_types(columns)).with_columns(
        pl.lit(None, pl.String).alias(MARK)
    )
    path = root / f.drop_path("birch", kind, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        file_bytes("birch", kind, day, detail_lines("birch", to_text("birch", kind, frame)))
    )


def _types(columns: set[str]) -> dict[str, pl.DataType]:
    def dtype(name: str) -> pl.DataType:
        if name in adapter.NUMBER_COLUMNS:
            return pl.Float64
        return pl.Date if name in adapter.DATE_COLUMNS else pl.String

    return {name: dtype(name) for name in sorted(columns)}


def lot_rows(lots: list[tuple]) -> list[dict]:
    return [
        {
            "account_id": account,
            "lot_id": lot,
            "symbol": symbol,
            "quantity": quantity,
            "cost_basis": basis,
            "acquired_date": D("2021-06-01"),
        }
        for account, lot, symbol, quantity, basis in lots
    ]


def write_drops(root: Path) -> None:
    sell = {
        "transaction_id": "T1",
        "account_id": "A1",
        "trade_date": SALE,
        "type": "sell",
        "symbol": "TMKT",
        "quantity": 1120.0,
        "price": 240.0,
        "amount": 268800.0,
        "lot_id": "A1-L-TMKT",
    }
    days = [d for d in previous_business_days(AS_OF, 10) if d >= DAY_BEFORE_SALE]
    for day in days:
        write_drop(root, "transactions", day, [sell] if day == SALE else [])
    write_drop(root, "transactions", AS_OF, [])
    # an older file with the lot at another basis: not the day before the sale, not read
    write_drop(root, "lots", EARLIER, lot_rows([(*SOLD_LOT[:4], 1.0), *LOTS]))
    write_drop(root, "lots", DAY_BEFORE_SALE, lot_rows([SOLD_LOT, *LOTS]))
    write_drop(root, "lots", AS_OF, lot_rows(LOTS))
    positions = {}
    for account, _, symbol, quantity, _ in LOTS:
        positions[(account, symbol)] = positions.get((account, symbol), 0.0) + quantity
    write_drop(
        root,
        "positions",
        AS_OF,
        [{"account_id": a, "symbol": s, "quantity": q} for (a, s), q in positions.items()],
    )
    write_drop(
        root,
        "cash",
        AS_OF,
        [{"account_id": "A1", "cash": 8000.0}, {"account_id": "A2", "cash": 4000.0}],
    )
    write_drop(
        root,
        "prices",
        AS_OF,
        [{"symbol": s[1], "price_date": AS_OF, "close": s[4]} for s in SECURITIES],
    )
    write_drop(root, "corporate_actions", AS_OF, [])


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    write_firm(root)
    write_drops(root)
    return load_book(root, AS_OF)


def test_the_lot_of_the_day_before_the_sale_gives_the_loss_and_blocks_the_ira(book):
    outputs = run_stages(book, Policy())
    assert outputs.validation.account_status["status"].to_list() == ["ok", "ok"]
    routing = outputs.routing
    trades = pl.concat([routing.released_trades, routing.review_queue], how="diagonal_relaxed")
    buys = trades.filter((pl.col("account_id") == "A2") & (pl.col("side") == "buy"))
    assert buys.height > 0 and not set(buys["security_id"]) & TOTAL_US
    gains = outputs.features["sell_gains"]
    # 1,120 x $240 - 1,120 x ($298,800 / 1,120)
    assert gains.select("transaction_id", "realized_gain", "gain_source").rows() == [
        ("T1", -30_000.0, "lot_cost_basis")
    ]
    windows = outputs.features["wash_sale_windows"]
    assert windows.select("household_id", "identical_group", "blocks").rows() == [
        ("H1", "TOTAL_US", "buy")
    ]
    assert "unknown_realized_gain" not in outputs.validation.findings["check"].to_list()


def test_only_the_sold_lot_of_the_day_before_the_sale_is_kept(book):
    assert book.sold_lots.select(
        "file_date", "account_id", "lot_id", "security_id", "quantity", "cost_basis", "source_file"
    ).rows() == [
        (
            DAY_BEFORE_SALE,
            "A1",
            "A1-L-TMKT",
            "SEC-TMKT",
            1120.0,
            298800.0,
            "drops/2026-03-05/birch/LOTS.260305.dat",
        )
    ]
