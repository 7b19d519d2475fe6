"""What the review screen shows and holds: the open queue of a date, one view per account,
and the decisions a reviewer drafts on it until they are released as one session.

Drafts are the screen's own until "release": then they go through ``ReviewDesk.record``,
the path of ``rebalance review --decisions``, and become the attributed, append-only
records. Every account or trade a request names is looked up in the queue frame; a name
the queue does not hold is ``None`` to the caller (never a path, never SQL).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any

import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline import tables as t
from rebalance_pipeline.export.run import ExportOutcome
from rebalance_pipeline.reporting.cells import (
    amount_cell,
    dollars,
    price_cell,
    quantity_cell,
    quantity_from_text,
)
from rebalance_pipeline.review.queue import REVIEW_DECISIONS, TRADE_KEY
from rebalance_pipeline.review_screen.desk import ReviewDesk

TradeKey = tuple[str, str, str, str | None]  # account, security, side, lot (TRADE_KEY)
ACCOUNT_DECISIONS = ("approve", "reject")  # for every undecided trade of an account
TRADE_DECISIONS = ("approve", "reject", "modify")


@dataclasses.dataclass(frozen=True)
class Draft:
    decision: str  # one of TRADE_DECISIONS
    new_quantity: float | None  # modify only
    note: str | None

    def text(self) -> str:
        modified = f" to {quantity_cell(self.new_quantity)}" if self.decision == "modify" else ""
        return f"{self.decision}{modified}"


@dataclasses.dataclass(frozen=True)
class TradeView:
    key: TradeKey
    quantity: str
    price: str
    amount: str
    draft: Draft | None

    @property
    def security_id(self) -> str:
        return self.key[1]

    @property
    def side(self) -> str:
        return self.key[2]

    @property
    def lot_id(self) -> str:
        return self.key[3] or ""


@dataclasses.dataclass(frozen=True)
class AccountView:
    account_id: str
    route: str
    reasons: str
    outlier_flags: str
    drift_before: str  # the optimizer's tracking error to the model, before the trades
    drift_after: str
    tax_impact: str
    value_traded: str
    trades: list[TradeView]

    @property
    def decided(self) -> int:
        return sum(trade.draft is not None for trade in self.trades)

    @property
    def partly_decided(self) -> bool:
        """Some trades decided, not all: the account would stay in the queue."""
        return 0 < self.decided < len(self.trades)


@dataclasses.dataclass(frozen=True)
class Released:
    """One released session: what ``rebalance review --decisions`` prints."""

    reviewer: str
    outcome: ExportOutcome
    still_partly_decided: list[str]  # accounts recorded but left in the queue


class ScreenError(ValueError):
    """A decision or release the screen refuses, said to the reviewer."""


class ReviewScreen:
    """The open queue of ``desk``'s date and the decisions drafted on it."""

    def __init__(self, desk: ReviewDesk) -> None:
        self.desk = desk
        self._lock = threading.Lock()
        self._drafts: dict[TradeKey, Draft] = {}
        self._load()

    def _load(self) -> None:
        tables = self.desk.tables()
        queue = self.desk.open_queue(tables)
        self.queue = queue.trades.sort(TRADE_KEY, nulls_last=True)
        self.superseded = queue.superseded
        results = storage.read_partition("optimization_results", self.desk.day, self.desk.home)
        self._facts = {
            row["account_id"]: row
            for row in tables.routing_decisions.join(results, on="account_id", how="left")
            .join(self.queue.select("account_id").unique(), on="account_id", how="semi")
            .iter_rows(named=True)
        }

    def accounts(self) -> list[AccountView]:
        ids = self.queue["account_id"].unique(maintain_order=True).to_list()
        return [self._view(account_id) for account_id in ids]

    def account(self, account_id: str) -> AccountView | None:
        """The account's view, None when the open queue does not hold it."""
        return self._view(account_id) if account_id in self._facts else None

    def decide_trade(
        self,
        account_id: str,
        trade: tuple[str, str, str | None],
        decision: str,
        new_quantity: str,
        note: str,
    ) -> None:
        """Draft one trade's decision; ``trade`` is (security, side, lot) as requested.

        Raises ``KeyError`` for a trade the queue does not hold, ``ScreenError`` for a
        decision it cannot take (a modify without a valid quantity)."""
        key = self._trade_key(account_id, trade)
        draft = Draft(decision, _new_quantity(decision, new_quantity), note.strip() or None)
        with self._lock:
            self._drafts[key] = draft

    def decide_rest(self, account_id: str, decision: str, note: str) -> None:
        """Draft ``decision`` for every trade of the account not decided yet."""
        if decision not in ACCOUNT_DECISIONS:
            raise ScreenError(f"an account takes {' or '.join(ACCOUNT_DECISIONS)}")
        view = self.account(account_id)
        if view is None:
            raise KeyError(account_id)
        draft = Draft(decision, None, note.strip() or None)
        with self._lock:
            for trade in view.trades:
                self._drafts.setdefault(trade.key, draft)

    def release(self, reviewer: str, decided_at: dt.datetime) -> Released:
        """Record the drafts as one session of ``reviewer`` and release what they settle;
        the drafts are then records, and the queue is read again."""
        if not reviewer.strip():
            raise ScreenError("a reviewer name is required")
        with self._lock:
            if not self._drafts:
                raise ScreenError("nothing decided yet")
            partly = [view.account_id for view in self.accounts() if view.partly_decided]
            outcome = self.desk.record(self.decisions(), reviewer.strip(), decided_at)
            self._drafts.clear()
            self._load()
        return Released(reviewer.strip(), outcome, partly)

    def decisions(self) -> pl.DataFrame:
        """The queue with the drafted decisions (REVIEW_DECISIONS; undecided rows null)."""
        drafted = pl.DataFrame(
            [(*key, d.decision, d.new_quantity, d.note) for key, d in self._drafts.items()],
            schema={
                **{name: REVIEW_DECISIONS[name] for name in TRADE_KEY},
                "decision": t.Utf8,
                "new_quantity": t.F64,
                "note": t.Utf8,
            },
            orient="row",
        )
        rows = self.queue.drop("decision", "new_quantity", "note").join(
            drafted, on=TRADE_KEY, how="left", nulls_equal=True
        )
        return t.conform(rows, REVIEW_DECISIONS)

    def _trade_key(self, account_id: str, trade: tuple[str, str, str | None]) -> TradeKey:
        security_id, side, lot_id = trade
        found = self.queue.filter(
            (pl.col("account_id") == account_id)
            & (pl.col("security_id") == security_id)
            & (pl.col("side") == side)
            & pl.col("lot_id").eq_missing(lot_id or None)
        )
        if found.is_empty():
            raise KeyError((account_id, *trade))
        return tuple(found.row(0, named=True)[name] for name in TRADE_KEY)  # type: ignore[return-value]

    def _view(self, account_id: str) -> AccountView:
        facts = self._facts[account_id]
        rows = self.queue.filter(pl.col("account_id") == account_id)
        trades = [_trade_view(row, self._drafts) for row in rows.iter_rows(named=True)]
        return AccountView(
            account_id=account_id,
            route=facts["route"],
            reasons=", ".join(facts["reasons"] or []) or "none",
            outlier_flags=", ".join(facts["outlier_flags"] or []) or "none",
            drift_before=_percent(facts["tracking_error_before"]),
            drift_after=_percent(facts["tracking_error_after"]),
            tax_impact=dollars(facts["cost_tax_usd"]),
            value_traded=dollars(rows["amount"].sum()),
            trades=trades,
        )


def _trade_view(row: dict[str, Any], drafts: dict[TradeKey, Draft]) -> TradeView:
    key: TradeKey = tuple(row[name] for name in TRADE_KEY)  # type: ignore[assignment]
    return TradeView(
        key=key,
        quantity=quantity_cell(row["quantity"]),
        price=price_cell(row["price"]),
        amount=amount_cell(row["quantity"], row["price"]),
        draft=drafts.get(key),
    )


def _new_quantity(decision: str, text: str) -> float | None:
    """The modified quantity, read as the decimal typed (as a review file's cell is)."""
    if decision not in TRADE_DECISIONS:
        raise ScreenError(f"a trade takes {', '.join(TRADE_DECISIONS)}")
    if decision != "modify":
        return None
    try:
        quantity = quantity_from_text(text.strip())
    except ValueError as exc:
        raise ScreenError(f"new quantity: {exc}") from None
    if quantity < 0:
        raise ScreenError("new quantity: must be a number >= 0")
    return float(quantity)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"
