"""``generate_book``: a synthetic book of firm files, custodian drops and fault ground truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from rebalance_pipeline.calendar import previous_business_days, sessions_ending
from rebalance_pipeline.features.macros import active_on
from rebalance_pipeline.generator import faults as fl
from rebalance_pipeline.generator.accounts import (
    BookState,
    build_accounts,
    initial_lots,
    start_state,
)
from rebalance_pipeline.generator.config import (
    FEED_FAULTS,
    FILE_FAULTS,
    PRICE_FAULTS,
    GeneratorConfig,
)
from rebalance_pipeline.generator.market import (
    SPLIT_SECURITY,
    SYMBOL_CHANGE,
    Market,
    build_market,
    model_bands,
    model_targets,
)
from rebalance_pipeline.generator.render import MARK, detail_lines, file_bytes, to_text
from rebalance_pipeline.ingest import formats as f

FIRM_EFFECTIVE_FROM = dt.date(2020, 1, 1)
HALTED_SECURITY = "SEC-HLTH"  # held through the M-GLOBAL model
# like many real custodians, birch never fills the realized gain of a sell (GAIN_AMT)
CUSTODIANS_WITHOUT_GAINS = ("birch",)
POLICY_TEXT = "# firm policy: the defaults of rebalance_pipeline.policy\n{}\n"


@dataclasses.dataclass(frozen=True)
class GeneratedBook:
    root: Path
    sessions: list[dt.date]  # every session with files: warm-up (prices only) then drops
    drop_days: list[dt.date]  # sessions with full drops (where faults may occur)
    accounts: pl.DataFrame  # the account master as written
    faults: pl.DataFrame  # the ground truth as written

    def summary(self) -> str:
        return (
            f"{self.accounts.height} accounts, {len(self.drop_days)} days of drops"
            f" ({self.drop_days[0]} to {self.drop_days[-1]}), {self.faults.height} faults"
        )


def generate_book(
    config: GeneratorConfig, out: Path, progress: Callable[[int, int], None] | None = None
) -> GeneratedBook:
    """Write a complete book under ``out``; the same config gives byte-identical files.

    ``progress(done, total)`` is called after each drop day. ``out`` must not hold a book
    already: files of an earlier book would survive where
    this one has none (a missing file, say) and blur its ground truth.
    """
    if any((out / part).exists() for part in ("firm", "drops", "ground_truth")):
        raise FileExistsError(f"{out} already holds a book; generate into an empty directory")
    rng = np.random.default_rng(config.seed)
    sessions = sessions_ending(config.end_date, config.warmup_days + config.days)
    drop_days = sessions[config.warmup_days :]
    market = build_market(rng, sessions, config.warmup_days)
    accounts = build_accounts(rng, config.accounts, config.households, drop_days[0])
    lots, cash = initial_lots(rng, accounts, market, drop_days[0], config.max_lots_per_holding)
    state = start_state(accounts, lots, cash)
    feed_rng = np.random.default_rng([config.seed, fl.FEED_FAULT_STREAM])
    plan = fl.plan_faults(rng, feed_rng, config, market, drop_days)
    fl.apply_price_faults(plan, market)
    firm = _firm_files(rng, accounts, market, drop_days)
    firm["restrictions"], firm_faults = fl.unresolvable_restrictions(
        config, drop_days, firm["accounts"], market.securities, firm["restrictions"]
    )
    for name, frame in firm.items():
        _write(out / "firm" / f"{name}.csv", _csv(frame))
    _write(out / "firm" / "policy" / "2020-01-01.yaml", POLICY_TEXT.encode())

    arrivals: list[dict] = []
    sent: dict[tuple[str, str], bytes] = {}
    truth: list[fl.Fault] = list(firm_faults)
    for day in sessions[: config.warmup_days]:
        texts = {c: {"prices": to_text(c, "prices", _prices(market, day, c))} for c in f.CUSTODIANS}
        _write_day(out, rng, day, texts, arrivals, {}, sent=sent)
    frozen_by_day = _frozen_securities(firm["halts"], market)
    for number, day in enumerate(drop_days):
        if day == market.split_day:
            state.apply_split(*SPLIT_SECURITY)
        transactions = state.trade_day(rng, day, market.closes_on(day), frozen_by_day(day))
        day_plan = [p for p in plan if p.day == day]
        files = _day_files(state, market, day, transactions, accounts)
        row_faults = _inject_day(rng, feed_rng, day_plan, files, state)
        texts = {
            c: {k: to_text(c, k, frame) for k, frame in files[c].frames.items()}
            for c in f.CUSTODIANS
        }
        _locate_row_faults(row_faults, files, texts)
        truth += row_faults
        unquoted = frozenset().union(*(files[c].unquoted for c in f.CUSTODIANS))
        truth += _write_day(
            out, rng, day, texts, arrivals, _file_plan(day_plan), accounts, unquoted, sent
        )
        if progress:
            progress(number + 1, len(drop_days))
    _write(
        out / "drops" / "arrivals.csv",
        _csv(pl.DataFrame(arrivals).sort("file_date", "custodian", "file_name")),
    )
    faults = _ground_truth(truth)
    _write(
        out / "ground_truth" / "faults.csv",
        _csv(faults.with_columns(pl.col("account_ids").list.join(" "))),
    )
    return GeneratedBook(out, sessions, drop_days, firm["accounts"], faults)


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def _csv(frame: pl.DataFrame) -> bytes:
    """CSV with ISO dates, shortest exact floats and \\n line ends."""
    return frame.write_csv(date_format="%Y-%m-%d", line_terminator="\n").encode()


def _firm_files(
    rng: np.random.Generator, accounts: pl.DataFrame, market: Market, drop_days: list[dt.date]
) -> dict[str, pl.DataFrame]:
    ids = accounts["account_id"]
    restricted = ids.gather(np.sort(rng.choice(ids.len(), max(1, ids.len() // 10), replace=False)))
    household = accounts["household_id"][int(rng.integers(0, accounts.height))]
    restrictions = pl.DataFrame(
        {
            "account_id": [*restricted.to_list(), None],
            "household_id": [None] * restricted.len() + [household],
            "security_id": None,
            "sector": "Tobacco",
            "reason": "client excludes tobacco",
            "effective_from": FIRM_EFFECTIVE_FROM,
            "effective_to": None,
        },
        schema_overrides={
            "account_id": pl.String,
            "household_id": pl.String,
            "security_id": pl.String,
            "effective_to": pl.Date,
        },
    ).with_row_index("n", 1)
    restrictions = restrictions.select(
        pl.format("R{}", pl.col("n").cast(pl.String).str.zfill(4)).alias("restriction_id"),
        *restrictions.columns[1:],
    )
    requesters = np.sort(rng.choice(ids.len(), max(2, ids.len() // 50), replace=False))
    created = [drop_days[int(i)] for i in rng.integers(0, len(drop_days), requesters.size)]
    cash_requests = pl.DataFrame(
        {
            "request_id": [f"CR{i + 1:04d}" for i in range(requesters.size)],
            "account_id": ids.gather(requesters),
            "amount": np.round(accounts["value"].gather(requesters).to_numpy() * 0.02, -2),
            "priority": np.where(rng.random(requesters.size) < 0.35, "high", "normal"),
            "due_date": [
                d + dt.timedelta(days=int(k))
                for d, k in zip(created, rng.integers(0, 6, requesters.size), strict=True)
            ],
            "created_date": created,
        }
    )
    hold_start = drop_days[len(drop_days) // 3]
    holds = pl.DataFrame(
        {
            "account_id": [ids[int(rng.integers(0, ids.len()))]],
            "start_date": [hold_start],
            "end_date": [hold_start + dt.timedelta(days=7)],
            "reason": ["client transferring assets in"],
        }
    )
    halt_start = drop_days[len(drop_days) // 2]
    halts = pl.DataFrame(
        {
            "security_id": [HALTED_SECURITY],
            "start_date": [halt_start],
            "end_date": [halt_start + dt.timedelta(days=3)],
            "reason": ["exchange trading halt"],
        }
    )
    return {
        "accounts": accounts.select(
            "account_id",
            "household_id",
            "custodian",
            "registration",
            "model_id",
            "st_rate",
            "lt_rate",
            "opened_date",
            effective_from=pl.col("opened_date"),
        ),
        "securities": market.securities,
        "model_targets": model_targets().with_columns(effective_from=pl.lit(FIRM_EFFECTIVE_FROM)),
        "model_bands": model_bands(market.securities).with_columns(
            effective_from=pl.lit(FIRM_EFFECTIVE_FROM)
        ),
        "restrictions": restrictions,
        "cash_requests": cash_requests,
        "holds": holds,
        "halts": halts,
    }


def _frozen_securities(halts: pl.DataFrame, market: Market):
    """Securities the simulated custodian activity does not trade on a day."""

    def frozen(day: dt.date) -> set[str]:
        return {*active_on(halts, day)["security_id"], SPLIT_SECURITY[0], SYMBOL_CHANGE[0]}

    return frozen


def _prices(market: Market, day: dt.date, custodian: str) -> pl.DataFrame:
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


def _day_files(
    state: BookState,
    market: Market,
    day: dt.date,
    transactions: pl.DataFrame,
    accounts: pl.DataFrame,
) -> dict[str, fl.DayFiles]:
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
    for custodian in f.CUSTODIANS:
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
        frames["prices"] = _prices(market, day, custodian)
        frames["corporate_actions"] = _corporate_actions(market, day).with_columns(
            custodian=pl.lit(custodian)
        )
        files[custodian] = fl.DayFiles(custodian, day, frames)
    return files


def _inject_day(
    rng: np.random.Generator,
    feed_rng: np.random.Generator,
    day_plan: list[fl.PlannedFault],
    files: dict[str, fl.DayFiles],
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
            for fault_id, file_kind, account, security in fl.inject_row_fault(
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


def _locate_row_faults(
    faults: list[fl.Fault],
    files: dict[str, fl.DayFiles],
    texts: dict[str, dict[str, pl.DataFrame]],
) -> None:
    """Name the file and line of each row fault and write its malformed text into the row."""
    for fault in faults:
        if fault.file_kind is None:
            continue
        file_kind = fault.file_kind
        text = texts[fault.custodian][file_kind]
        fault.row = fl.first_marked_line(text, fault.fault_id)
        fault.file_name = f.file_name(fault.custodian, file_kind, fault.file_date)
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
    return next(k for k, v in f.BIRCH_TO_CANONICAL.items() if v == column)


def _file_plan(day_plan: list[fl.PlannedFault]) -> dict[tuple[str, str], fl.PlannedFault]:
    return {(p.custodian, p.file_kind): p for p in day_plan if p.kind in FILE_FAULTS}


def _write_day(
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
            name = f.file_name(custodian, kind, day)
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
            path = out / f.drop_path(custodian, kind, day)
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
                _write(out / "outside" / f.drop_path(custodian, kind, day), content)
                _symlink(path, out / "outside" / f.drop_path(custodian, kind, day))
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
                _write(path, content)
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


def _ground_truth(truth: list[fl.Fault]) -> pl.DataFrame:
    return pl.DataFrame(
        [{k: getattr(fault, k) for k in fl.GROUND_TRUTH_COLUMNS} for fault in truth],
        schema={
            "fault_id": pl.String,
            "file_date": pl.Date,
            "fault_kind": pl.String,
            "custodian": pl.String,
            "file_name": pl.String,
            "row": pl.Int64,
            "security_id": pl.String,
            "account_ids": pl.List(pl.String),
        },
    ).sort("file_date", "fault_id")
