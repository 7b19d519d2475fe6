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
from rebalance_pipeline.generator.render import MARK, DayFile, FormatWriter
from rebalance_pipeline.generator.row_faults import DayFiles, inject_row_fault
from rebalance_pipeline.generator.writers import CUSTODIANS, WRITERS

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
    custodians: tuple[str, ...],
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
    for custodian in custodians:
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


def locate_row_faults(faults: list[fl.Fault], written: dict[str, list[DayFile]]) -> None:
    """Name the file and line of each row fault."""
    for fault in faults:
        if fault.file_kind is None:
            continue
        file = next(f for f in written[fault.custodian] if fault.file_kind in f.kinds)
        fault.row = file.lines.get(fault.fault_id)
        fault.file_name = file.name


def written_files(
    day: dt.date, files: dict[str, DayFiles], unquoted: frozenset[str] = frozenset()
) -> dict[str, list[DayFile]]:
    """Each custodian's files of the day, in its writer's format."""
    return {
        custodian: WRITERS[custodian].day_files(
            day, day_files.frames, day_files.text_overrides, unquoted
        )
        for custodian, day_files in files.items()
    }


def file_plan(day_plan: list[fl.PlannedFault]) -> dict[tuple[str, str], fl.PlannedFault]:
    return {(p.custodian, p.file_kind): p for p in day_plan if p.kind in FILE_FAULTS}


def write_day(
    out: Path,
    rng: np.random.Generator,
    day: dt.date,
    written: dict[str, list[DayFile]],
    arrivals: list[dict],
    file_faults: dict[tuple[str, str], fl.PlannedFault],
    accounts: pl.DataFrame | None = None,
    sent: dict[tuple[str, tuple[str, ...]], bytes] | None = None,
) -> list[fl.Fault]:
    """Write a day's files (applying file faults) and log their arrivals.

    ``sent`` holds the healthy bytes of each custodian file of the session before (read
    for a re-send, then replaced by today's); a re-send with nothing healthy to repeat is
    not injected. A file fault planned on a kind hits the file that carries the kind.
    """
    sent = {} if sent is None else sent
    truth = []
    for custodian, files in written.items():
        writer = WRITERS[custodian]
        for file in files:
            content: bytes | None = file.content
            minutes = int(rng.integers(60, 360))
            fault = next(
                (file_faults[(custodian, k)] for k in file.kinds if (custodian, k) in file_faults),
                None,
            )
            previous = sent.pop((custodian, file.kinds), None)
            if fault is None and file.healthy:
                sent[(custodian, file.kinds)] = file.content
            if fault is not None and fault.kind == "resent_previous_day" and previous is None:
                fault = None
            scope = _custodian_accounts(accounts, custodian) if fault else []
            row = None
            relative = CUSTODIANS[custodian].drop_path(file.kinds[0], day)
            path = out / relative
            if fault is not None and fault.kind == "missing_file":
                content = None
            elif fault is not None and fault.kind == "late_file":
                minutes = int(rng.integers(7 * 60, 12 * 60))
            elif fault is not None and fault.kind == "truncated_file":
                cut = writer.truncate(file, rng)
                content, row = cut.content, cut.row
                if cut.first_account_cut is not None:  # the accounts before it are whole
                    scope = [a for a in scope if a >= cut.first_account_cut]
            elif fault is not None and fault.kind == "symlinked_file":
                outside = out / "outside" / relative
                write_file(outside, file.content)
                _symlink(path, outside)
                content = None
            elif fault is not None:
                content = _spoil(writer, fault.kind, file.content, day, previous)
            if fault is not None:
                truth.append(
                    fl.Fault(
                        fault.fault_id,
                        fault.day,
                        fault.kind,
                        custodian,
                        file.name,
                        row,
                        None,
                        scope,
                    )
                )
            if content is not None:
                write_file(path, content)
            if content is not None or path.is_symlink():
                _log_arrival(arrivals, custodian, day, file.name, minutes)
    return truth


def _spoil(
    writer: FormatWriter, kind: str, content: bytes, day: dt.date, previous: bytes | None
) -> bytes:
    """The bytes of a file with a file fault that keeps it in place."""
    if kind == "wrong_encoding":
        return content.decode().encode("utf-16")
    if kind == "resent_previous_day" and previous is not None:
        return previous
    if kind in writer.spoilers:
        return writer.spoilers[kind](content, day)
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
