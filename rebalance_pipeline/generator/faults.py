"""Fault planning and injection, with the ground truth of what each fault must suspend
(the row faults' injectors are in ``row_faults.py``).

Faults are kept apart so that the ground truth stays exact: a custodian-day with a file
fault carries no other fault, a day with a price fault carries no file fault, a price
fault's security is touched by no row fault that day, and each row fault takes an
account no other row fault of the day touches. A firm fault (a restriction in force on
its day only) touches no custodian file: its accounts may carry other faults that day,
each of which lists them too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from rebalance_pipeline.generator.config import (
    CORPORATE_ACTION_FAULTS,
    FAULT_CUSTODIANS,
    FEED_FAULTS,
    FILE_FAULTS,
    FIRM_FAULTS,
    PRICE_FAULTS,
    SPOILED_FILE_FAULTS,
    GeneratorConfig,
)
from rebalance_pipeline.generator.market import (
    SPLIT_SECURITY,
    SYMBOL_CHANGE,
    Market,
    model_targets,
)
from rebalance_pipeline.generator.writers import WRITERS
from rebalance_pipeline.ingest.load import WASH_SALE_DAYS

JUMP_FACTOR = 1.4
FILE_FAULT_KINDS = ("positions", "lots", "cash")  # the files a file fault may hit
GROUND_TRUTH_COLUMNS = [
    "fault_id",
    "file_date",
    "fault_kind",
    "custodian",
    "file_name",
    "row",
    "security_id",
    "account_ids",
]


@dataclasses.dataclass(frozen=True)
class PlannedFault:
    day: dt.date
    kind: str
    custodian: str | None = None
    file_kind: str | None = None
    security_id: str | None = None

    @property
    def fault_id(self) -> str:
        target = self.custodian or self.security_id or ""
        return f"{self.day:%Y%m%d}-{self.kind}-{target}"


@dataclasses.dataclass
class Fault:
    """One injected fault as the ground truth records it."""

    fault_id: str
    file_date: dt.date
    fault_kind: str
    custodian: str | None
    file_name: str | None
    row: int | None
    security_id: str | None
    account_ids: list[str]
    file_kind: str | None = None  # kind of the file a row fault sits in (not written out)


def plan_faults(
    rng: np.random.Generator,
    feed_rng: np.random.Generator,
    config: GeneratorConfig,
    market: Market,
    drop_days: list[dt.date],
) -> list[PlannedFault]:
    """Draw the faults of every drop day; corporate-action faults only on their days.

    The ``FEED_FAULTS`` are drawn from ``feed_rng`` after the other faults of their day,
    which they never displace.
    """
    special = {SPLIT_SECURITY[0], SYMBOL_CHANGE[0]}
    held = set(model_targets()["security_id"])
    price_candidates = sorted(held - special)
    # a corporate-action fault can only fall on one day: give it the period's chance
    chance = {kind: config.fault_rate for kind in config.fault_kinds} | {
        kind: min(1.0, config.fault_rate * len(drop_days)) for kind in CORPORATE_ACTION_FAULTS
    }
    drop_fault_kinds = sorted(
        (
            kind
            for kind in config.fault_kinds
            if kind not in FIRM_FAULTS and _possible_custodians(kind, config.custodians)
        ),
        key=lambda kind: kind in FEED_FAULTS,
    )
    plan: list[PlannedFault] = []
    for day in drop_days:
        occupied: dict[str, str] = {}  # custodian -> "file" | "row"
        day_plan: list[PlannedFault] = []
        for kind in drop_fault_kinds:
            draw = feed_rng if kind in FEED_FAULTS else rng
            if draw.random() >= chance[kind] or not _possible(kind, day, market, drop_days[0]):
                continue
            if kind in PRICE_FAULTS:
                if not price_candidates or "file" in occupied.values():
                    continue
                security = price_candidates.pop(int(rng.integers(0, len(price_candidates))))
                day_plan.append(PlannedFault(day, kind, security_id=security))
                continue
            custodian = _free_custodian(draw, kind, occupied, day_plan, config.custodians)
            if custodian is None:
                continue
            file_kind = (
                FILE_FAULT_KINDS[int(draw.integers(0, len(FILE_FAULT_KINDS)))]
                if kind in FILE_FAULTS
                else None
            )
            occupied[custodian] = "file" if kind in FILE_FAULTS else "row"
            day_plan.append(PlannedFault(day, kind, custodian, file_kind))
        plan.extend(day_plan)
    return plan


def _possible(kind: str, day: dt.date, market: Market, first_drop_day: dt.date) -> bool:
    if kind == "split_not_applied":
        return day == market.split_day
    if kind == "symbol_change_not_applied":
        return day == market.symbol_change_day
    if kind == "resent_previous_day":  # the day before must hold the same kinds of rows
        return day not in (first_drop_day, market.split_day, market.symbol_change_day)
    return True


def _possible_custodians(kind: str, custodians: tuple[str, ...]) -> tuple[str, ...]:
    """The custodians of the book whose format can carry a fault of ``kind`` (a kind no
    custodian of the book can carry is never drawn)."""
    if kind in FAULT_CUSTODIANS:
        return tuple(c for c in custodians if c in FAULT_CUSTODIANS[kind])
    if kind in SPOILED_FILE_FAULTS:  # only where the format's writer can spoil a file so
        return tuple(c for c in custodians if kind in WRITERS[c].spoilers)
    return custodians


def _free_custodian(
    rng: np.random.Generator,
    kind: str,
    occupied: dict[str, str],
    day_plan: list[PlannedFault],
    custodians: tuple[str, ...],
) -> str | None:
    """A custodian this fault can go to without blurring another fault's scope."""
    start = int(rng.integers(0, len(custodians)))
    order = custodians[start:] + custodians[:start]
    possible = _possible_custodians(kind, custodians)
    has_price_fault = any(p.kind in PRICE_FAULTS for p in day_plan)
    for custodian in order:
        if custodian not in possible:
            continue
        taken = occupied.get(custodian)
        if kind in FILE_FAULTS and taken is None and not has_price_fault:
            return custodian
        if kind not in FILE_FAULTS and taken != "file":
            return custodian
    return None


def apply_price_faults(plan: list[PlannedFault], market: Market) -> None:
    """Stale prices and jumps are changes to the price paths themselves."""
    for fault in plan:
        if fault.kind not in ("stale_price", "price_jump"):
            continue
        day = market.sessions.index(fault.day)
        column = market.column(fault.security_id)
        if fault.kind == "stale_price":
            market.closes[day - 1 : day + 1, column] = market.closes[day - 2, column]
        else:
            market.closes[day:, column] = np.round(market.closes[day:, column] * JUMP_FACTOR, 2)


FIRM_FAULT_STREAM = 1  # the random stream of the firm faults, apart from the book's own
FEED_FAULT_STREAM = 2  # the random stream of the FEED_FAULTS
RESTRICTIONS_FILE = "firm/restrictions.csv"


def unresolvable_restrictions(
    config: GeneratorConfig,
    drop_days: list[dt.date],
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    restrictions: pl.DataFrame,
) -> tuple[pl.DataFrame, list[Fault]]:
    """``restrictions`` with one more row per drawn fault: in force on its day only, for
    an account or a household, naming a security or a sector the master does not have
    (a mistyped id, a sector in lower case). Drawn from a random stream of their own, so
    that a book's custodian files are the same with or without them."""
    if "unresolvable_restriction" not in config.fault_kinds:
        return restrictions, []
    rng = np.random.default_rng([config.seed, FIRM_FAULT_STREAM])
    rows: list[dict] = []
    truth = []
    for day in drop_days:
        if rng.random() >= config.fault_rate:
            continue
        number = restrictions.height + len(rows) + 1  # the row's line is number + 1
        restriction_id = f"R{number:04d}"
        holder, protected = _restriction_holder(rng, accounts)
        rows.append(
            {"restriction_id": restriction_id}
            | holder
            | _unknown_restricted(rng, securities)
            | {"reason": "client restriction", "effective_from": day, "effective_to": day}
        )
        truth.append(
            Fault(
                fault_id=f"{day:%Y%m%d}-unresolvable_restriction-{restriction_id}",
                file_date=day,
                fault_kind="unresolvable_restriction",
                custodian=None,
                file_name=RESTRICTIONS_FILE,
                row=number + 1,
                security_id=None,
                account_ids=protected,
            )
        )
    added = pl.DataFrame(rows, schema=restrictions.schema)
    return pl.concat([restrictions, added]), truth


def _restriction_holder(
    rng: np.random.Generator, accounts: pl.DataFrame
) -> tuple[dict[str, str | None], list[str]]:
    """An account or its household, and the accounts that restriction protects."""
    account = accounts.row(int(rng.integers(0, accounts.height)), named=True)
    if rng.random() < 0.5:
        return {"account_id": account["account_id"], "household_id": None}, [account["account_id"]]
    household = account["household_id"]
    members = accounts.filter(pl.col("household_id") == household)["account_id"]
    return {"account_id": None, "household_id": household}, sorted(members)


def _unknown_restricted(
    rng: np.random.Generator, securities: pl.DataFrame
) -> dict[str, str | None]:
    """A security id or a sector no security of the master has, made from a real one."""
    security = securities.row(int(rng.integers(0, securities.height)), named=True)
    if rng.random() < 0.5:
        return {"security_id": f"{security['security_id']}X", "sector": None}
    return {"security_id": None, "sector": security["sector"].lower()}


def history_gaps(
    truth: list[Fault], drop_days: list[dt.date], accounts: pl.DataFrame
) -> list[Fault]:
    """missing_history on each drop day whose wash-sale window holds a custodian's
    transactions file that a file fault made untrustworthy (a format that carries the
    transactions in the file a fault hit): every account of the custodian, until the day
    leaves the window. Days before the custodian's first delivered transactions file are
    before its feed began, as ingest sees it."""
    hit = {
        (fault.custodian, fault.file_date, fault.fault_kind)
        for fault in truth
        if fault.fault_kind in FILE_FAULTS
        and fault.fault_kind != "late_file"
        and fault.custodian is not None
        and fault.file_name
        == WRITERS[fault.custodian].adapter.file_name("transactions", fault.file_date)
    }
    missing = {(c, day) for c, day, kind in hit if kind == "missing_file"}
    first_delivered = {c: min(d for d in drop_days if (c, d) not in missing) for c, _, _ in hit}
    damaged = {(c, day) for c, day, _ in hit if day >= first_delivered[c]}
    gaps = []
    for day in drop_days:
        since = day - dt.timedelta(days=WASH_SALE_DAYS)
        for custodian in sorted({c for c, damaged_day in damaged if since <= damaged_day < day}):
            members = accounts.filter(pl.col("custodian") == custodian)["account_id"]
            gaps.append(
                Fault(
                    fault_id=f"{day:%Y%m%d}-missing_history-{custodian}",
                    file_date=day,
                    fault_kind="missing_history",
                    custodian=custodian,
                    file_name=None,
                    row=None,
                    security_id=None,
                    account_ids=sorted(members),
                )
            )
    return gaps
