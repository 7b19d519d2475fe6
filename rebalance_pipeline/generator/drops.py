"""The custodians' daily drops of a generated book: each day's files per custodian with
their planned faults injected (rows, then whole files), written and logged as they
arrive.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import polars as pl

from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.generator import faults as fl
from rebalance_pipeline.generator.accounts import (
    BookState,
)
from rebalance_pipeline.generator.config import (
    FEED_FAULTS,
    FILE_FAULTS,
    PRICE_FAULTS,
)
from rebalance_pipeline.generator.market import (
    SPLIT_SECURITY,
    SYMBOL_CHANGE,
    Market,
)
from rebalance_pipeline.generator.render import CUSTODIANS, MARK, detail_lines, file_bytes
from rebalance_pipeline.generator.row_faults import DayFiles, inject_row_fault
from rebalance_pipeline.ingest.custodians import birch

# like many real custodians, birch never fills the realized gain of a sell (GAIN_AMT)
CUSTODIANS_WITHOUT_GAINS = ("birch",)


def write_file(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def day_prices(market: Market, day: dt.date, custodian: str) -> pl.DataFrame:
    return (
        market.closes_on(day)
        .join(market.symbols_on(day), on="security_id")
        .with_columns(
            price_date=pl.lit(day), custodian=pl.lit(custodian), **{MARK: pl.lit(None, pl.String)}
        )
    )


def _corporate_actions(market: Market, day: dt.date) -> pl.DataFrame:
    rows = []
    if day == market.split_day:
        symbol = market.symbols_on(day).filter(pl.col("security_id") == SPLIT_SECURITY[0])
        rows.append(
            {
                "security_id": SPLIT_SECURITY[0],
                "symbol": symbol["symbol"][0],
                "action": "split",
                "ratio": SPLIT_SECURITY[1],
                "new_symbol": None,
            }
        )
    if day == market.symbol_change_day:
        rows.append(
            {
                "security_id": SYMBOL_CHANGE[0],
                "symbol": SYMBOL_CHANGE[1],
                "action": "symbol_change",
                "ratio": None,
                "new_symbol": SYMBOL_CHANGE[2],
            }
        )
    schema = {
        "security_id": pl.String,
        "symbol": pl.String,
        "action": pl.String,
        "ratio": pl.Float64,
        "new_symbol": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).with_columns(
        effective_date=pl.lit(day), **{MARK: pl.lit(None, pl.String)}
    )


def day_files(
    state: BookState,
    market: Market,
    day: dt.date,
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
) -> dict[str, DayFiles]:
    symbols = market.symbols_on(day)
    custodian_of = accounts.select("account_id", "custodian")
    by_account = {
        "positions": state.positions(),
        "lots": state.lots,
        "transactions": transactions,
        "cash": state.cash_frame(),
    }
    shaped = {
        kind: frame.join(symbols, on="security_id", how="left")
        if "security_id" in frame.columns
        else frame
        for kind, frame in by_account.items()
    }
    files = {}
    for custodian in CUSTODIANS:
        frames = {
            kind: frame.join(custodian_of, on="account_id")
            .filter(pl.col("custodian") == custodian)
            .with_columns(pl.lit(None, pl.String).alias(MARK))
            for kind, frame in shaped.items()
        }
        if custodian in CUSTODIANS_WITHOUT_GAINS:
            frames["transactions"] = frames["transactions"].with_columns(
                realized_gain=pl.lit(None, pl.Float64)
            )
        frames["prices"] = day_prices(market, day, custodian)
        frames["corporate_actions"] = _corporate_actions(market, day).with_columns(
            custodian=pl.lit(custodian)
        )
        files[custodian] = DayFiles(custodian, day, frames)
    return files


def inject_day(
    rng: np.random.Generator,
    feed_rng: np.random.Generator,
    day_plan: list[fl.PlannedFault],
    files: dict[str, DayFiles],
    state: BookState,
) -> list[fl.Fault]:
    """Price and row faults of one day (file faults act on the bytes later); the
    ``FEED_FAULTS`` draw from ``feed_rng``."""
    price_faulted = {p.security_id for p in day_plan if p.kind in PRICE_FAULTS}
    excluded = price_faulted | {SPLIT_SECURITY[0], SYMBOL_CHANGE[0]}
    positions = state.positions()
    used: set[str] = set()
    truth = []
    for fault in day_plan:
        if fault.kind in PRICE_FAULTS:
            if fault.kind == "missing_price":
                for custodian_files in files.values():
                    prices = custodian_files.frames["prices"]
                    custodian_files.frames["prices"] = prices.filter(
                        pl.col("security_id") != fault.security_id
                    )
            holders = positions.filter(pl.col("security_id") == fault.security_id)["account_id"]
            truth.append(
                fl.Fault(
                    fault_id=fault.fault_id,
                    file_date=fault.day,
                    fault_kind=fault.kind,
                    custodian=None,
                    file_name=None,
                    row=None,
                    security_id=fault.security_id,
                    account_ids=sorted(holders.unique()),
                )
            )
        elif fault.kind not in FILE_FAULTS:
            draw = feed_rng if fault.kind in FEED_FAULTS else rng
            for fault_id, file_kind, account, security in inject_row_fault(
                draw, fault, files[fault.custodian], used, excluded
            ):
                truth.append(
                    fl.Fault(
                        fault_id=fault_id,
                        file_date=fault.day,
                        fault_kind=fault.kind,
                        custodian=fault.custodian,
                        file_name=None,  # known once the rows are sorted and written
                        row=None,
                        security_id=security,
                        account_ids=[account],
                        file_kind=file_kind,
                    )
                )
    for custodian_files in files.values():
        custodian_files.sort()
    return truth


def locate_row_faults(
    faults: list[fl.Fault],
    files: dict[str, DayFiles],
    texts: dict[str, dict[str, pl.DataFrame]],
) -> None:
    """Name the file and line of each row fault and write its malformed text into the row."""
    for fault in faults:
        if fault.file_kind is None:
            continue
        file_kind = fault.file_kind
        text = texts[fault.custodian][file_kind]
        fault.row = fl.first_marked_line(text, fault.fault_id)
        fault.file_name = CUSTODIANS[fault.custodian].adapter.file_name(file_kind, fault.file_date)
        if fault.fault_id in files[fault.custodian].text_overrides:
            column, value = files[fault.custodian].text_overrides[fault.fault_id]
            field = column if fault.custodian == "alder" else _birch_field(column)
            texts[fault.custodian][file_kind] = text.with_columns(
                pl.when(pl.col(MARK) == fault.fault_id)
                .then(pl.lit(value))
                .otherwise(pl.col(field))
                .alias(field)
            )


def _birch_field(column: str) -> str:
    return next(k for k, v in birch.TO_CANONICAL.items() if v == column)


def file_plan(day_plan: list[fl.PlannedFault]) -> dict[tuple[str, str], fl.PlannedFault]:
    return {(p.custodian, p.file_kind): p for p in day_plan if p.kind in FILE_FAULTS}


def write_day(
    out: Path,
    rng: np.random.Generator,
    day: dt.date,
    texts: dict[str, dict[str, pl.DataFrame]],
    arrivals: list[dict],
    file_faults: dict[tuple[str, str], fl.PlannedFault],
    accounts: pl.DataFrame | None = None,
    unquoted: frozenset[str] = frozenset(),
    sent: dict[tuple[str, str], bytes] | None = None,
) -> list[fl.Fault]:
    """Write a day's files (applying file faults) and log their arrivals.

    ``sent`` holds the healthy bytes of each custodian file of the session before (read
    for a re-send, then replaced by today's); a re-send with nothing healthy to repeat is
    not injected.
    """
    sent = {} if sent is None else sent
    truth = []
    for custodian, kinds in texts.items():
        for kind, text in kinds.items():
            name = CUSTODIANS[custodian].adapter.file_name(kind, day)
            content = file_bytes(custodian, kind, day, detail_lines(custodian, text, unquoted))
            minutes = int(rng.integers(60, 360))
            fault = file_faults.get((custodian, kind))
            previous = sent.pop((custodian, kind), None)
            if fault is None and text.get_column(MARK).is_null().all():
                sent[(custodian, kind)] = content
            if fault is not None and fault.kind == "resent_previous_day" and previous is None:
                fault = None
            scope = _custodian_accounts(accounts, custodian) if fault else []
            row = None
            path = out / CUSTODIANS[custodian].drop_path(kind, day)
            if fault is not None and fault.kind == "missing_file":
                content = None
            elif fault is not None and fault.kind == "late_file":
                minutes = int(rng.integers(7 * 60, 12 * 60))
            elif fault is not None and fault.kind == "truncated_file":
                content, row = fl.truncate(custodian, content, rng)
                if custodian == "alder":  # no trailer: the accounts before the cut are whole
                    last_account = text["account_id"][row - 2]
                    scope = [a for a in scope if a >= last_account]
            elif fault is not None and fault.kind == "symlinked_file":
                outside = out / "outside" / CUSTODIANS[custodian].drop_path(kind, day)
                write_file(outside, content)
                _symlink(path, outside)
                content = None
            elif fault is not None:
                content = _spoil(fault.kind, content, day, previous)
            if fault is not None:
                truth.append(
                    fl.Fault(
                        fault.fault_id, fault.day, fault.kind, custodian, name, row, None, scope
                    )
                )
            if content is not None:
                write_file(path, content)
            if content is not None or path.is_symlink():
                _log_arrival(arrivals, custodian, day, name, minutes)
    return truth


def _spoil(kind: str, content: bytes, day: dt.date, previous: bytes | None) -> bytes:
    """The bytes of a file with a file fault that keeps it in place."""
    if kind == "wrong_encoding":
        return content.decode().encode("utf-16")
    if kind == "checksum_corrupted":
        return fl.corrupt_value(content)
    if kind == "trailing_junk":
        return fl.add_trailing_junk(content, day)
    if kind == "stale_header_date":
        return fl.restamp_header(content, previous_business_days(day, 1)[0])
    if kind == "resent_previous_day" and previous is not None:
        return previous
    raise ValueError(f"{kind} is not a fault of a file's bytes")


def _symlink(link: Path, target: Path) -> None:
    """``link`` made a relative symbolic link to ``target`` (the book stays movable)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent))


def _log_arrival(
    arrivals: list[dict], custodian: str, day: dt.date, name: str, minutes: int
) -> None:
    arrived = dt.datetime.combine(day + dt.timedelta(days=1), dt.time()) + dt.timedelta(
        minutes=minutes
    )
    arrivals.append(
        {
            "custodian": custodian,
            "file_date": day,
            "file_name": name,
            "arrived_at": f"{arrived:%Y-%m-%dT%H:%M:%S}Z",
        }
    )


def _custodian_accounts(accounts: pl.DataFrame, custodian: str) -> list[str]:
    return sorted(accounts.filter(pl.col("custodian") == custodian)["account_id"])
