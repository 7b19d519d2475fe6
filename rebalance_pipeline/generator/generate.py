"""``generate_book``: a synthetic book of firm files, custodian drops and fault ground truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from rebalance_pipeline.calendar import sessions_ending
from rebalance_pipeline.features.macros import active_on
from rebalance_pipeline.generator import faults as fl
from rebalance_pipeline.generator.accounts import (
    build_accounts,
    initial_lots,
    start_state,
)
from rebalance_pipeline.generator.config import (
    GeneratorConfig,
)
from rebalance_pipeline.generator.drops import (
    day_files,
    day_prices,
    file_plan,
    inject_day,
    locate_row_faults,
    write_day,
    write_file,
    written_files,
)
from rebalance_pipeline.generator.firm_files import firm_files
from rebalance_pipeline.generator.market import (
    SPLIT_SECURITY,
    SYMBOL_CHANGE,
    Market,
    build_market,
)
from rebalance_pipeline.generator.row_faults import DayFiles
from rebalance_pipeline.generator.writers import custodians_file
from rebalance_pipeline.ingest.custodians import CUSTODIANS_FILE

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
    accounts = build_accounts(
        rng, config.accounts, config.households, drop_days[0], config.custodians
    )
    lots, cash = initial_lots(
        rng, accounts, market.closes_on(drop_days[0]), drop_days[0], config.max_lots_per_holding
    )
    state = start_state(accounts, lots, cash)
    feed_rng = np.random.default_rng([config.seed, fl.FEED_FAULT_STREAM])
    plan = fl.plan_faults(rng, feed_rng, config, market, drop_days)
    fl.apply_price_faults(plan, market)
    firm = firm_files(rng, accounts, market.securities, drop_days)
    firm["restrictions"], firm_faults = fl.unresolvable_restrictions(
        config, drop_days, firm["accounts"], market.securities, firm["restrictions"]
    )
    for name, frame in firm.items():
        write_file(out / "firm" / f"{name}.csv", _csv(frame))
    write_file(out / "firm" / "policy" / "2020-01-01.yaml", POLICY_TEXT.encode())

    arrivals: list[dict] = []
    write_file(out / CUSTODIANS_FILE, custodians_file(config.custodians))
    sent: dict[tuple[str, tuple[str, ...]], bytes] = {}
    truth: list[fl.Fault] = list(firm_faults)
    for day in sessions[: config.warmup_days]:
        prices = {
            c: DayFiles(c, day, {"prices": day_prices(market, day, c)}) for c in config.custodians
        }
        write_day(out, rng, day, written_files(day, prices), arrivals, {}, sent=sent)
    frozen_by_day = _frozen_securities(firm["halts"], market)
    for number, day in enumerate(drop_days):
        if day == market.split_day:
            state.apply_split(*SPLIT_SECURITY)
        transactions = state.trade_day(rng, day, market.closes_on(day), frozen_by_day(day))
        day_plan = [p for p in plan if p.day == day]
        files = day_files(state, market, day, transactions, accounts, config.custodians)
        row_faults = inject_day(rng, feed_rng, day_plan, files, state)
        unquoted = frozenset().union(*(files[c].unquoted for c in config.custodians))
        written = written_files(day, files, unquoted)
        locate_row_faults(row_faults, written)
        truth += row_faults
        truth += write_day(out, rng, day, written, arrivals, file_plan(day_plan), accounts, sent)
        if progress:
            progress(number + 1, len(drop_days))
    write_file(
        out / "drops" / "arrivals.csv",
        _csv(pl.DataFrame(arrivals).sort("file_date", "custodian", "file_name")),
    )
    faults = _ground_truth(truth + fl.history_gaps(truth, drop_days, accounts))
    write_file(
        out / "ground_truth" / "faults.csv",
        _csv(faults.with_columns(pl.col("account_ids").list.join(" "))),
    )
    return GeneratedBook(out, sessions, drop_days, firm["accounts"], faults)


def _csv(frame: pl.DataFrame) -> bytes:
    """CSV with ISO dates, shortest exact floats and \\n line ends."""
    return frame.write_csv(date_format="%Y-%m-%d", line_terminator="\n").encode()


def _frozen_securities(halts: pl.DataFrame, market: Market):
    """Securities the simulated custodian activity does not trade on a day."""

    def frozen(day: dt.date) -> set[str]:
        return {*active_on(halts, day)["security_id"], SPLIT_SECURITY[0], SYMBOL_CHANGE[0]}

    return frozen


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
