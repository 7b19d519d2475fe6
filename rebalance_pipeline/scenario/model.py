"""The neutral scenario format of the acceptance books, validated field by field.

A scenario that does not follow the format is bad input: pydantic names the field that is
wrong (``accounts.2.lots.0.quantity: Input should be a valid number``), never a trace.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from rebalance_pipeline.calendar import outside_calendar


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _in_calendar(day: dt.date) -> dt.date:
    """A date the book runs on must lie inside the exchange calendar."""
    reason = outside_calendar(day)
    if reason is not None:
        raise ValueError(reason)
    return day


RunDate = Annotated[dt.date, AfterValidator(_in_calendar)]


class ScenarioPolicy(Model):
    halt_mode: Literal["skip_account", "freeze_security"] | None = None
    step2_high_priority_only: bool | None = None
    tax_aversion: Literal["low", "medium", "high"] | None = None
    round_lots: bool | None = None
    # the project's own key: the long-term deferral window of every account group
    long_term_deferral_days: int | None = Field(None, ge=0)
    # the project's own keys: the annual realized-gain budget of every account group
    gain_budget_usd: float | None = Field(None, ge=0)
    gain_budget_pct: float | None = Field(None, ge=0)
    # the project's own keys: household asset location (firm option) and its bps per class
    household_asset_location: bool | None = None
    asset_location_bps: dict[str, float] | None = None


class Security(Model):
    id: str
    symbol: str
    asset_class: str
    sector: str | None = None
    rating: int = Field(3, ge=1, le=5)
    price: float | None
    identical_group: str | None = None
    round_lot: int = Field(1, ge=1)
    # shares traded a day (the project's own key: market impact, when the policy models it)
    average_daily_volume: float | None = Field(None, ge=0)


class ModelPortfolio(Model):
    targets: dict[str, float]
    bands: dict[str, tuple[float, float]] = {}


class Lot(Model):
    id: str
    security: str
    quantity: float
    cost_basis: float
    acquired: dt.date


class Account(Model):
    id: str
    household: str
    registration: Literal["taxable", "traditional_ira", "roth"]
    model: str
    st_rate: float
    lt_rate: float
    cash: float
    last_trade: dt.date | None = None
    lots: list[Lot] = []
    # the project's own key, as the account master gives it: validation judges the value
    rebalance_type: str | None = None
    # the project's own key, as the account master gives it ("25000", "1.5%", "none"):
    # validation judges the value
    gain_budget: str | float | None = None
    # the project's own key, the account master's: the account is in transition from then
    transition_start: dt.date | None = None

    @property
    def gain_budget_text(self) -> str | None:
        """The value as the account master's CSV cell would hold it."""
        return None if self.gain_budget is None else str(self.gain_budget)


class Position(Model):
    account: str
    security: str
    quantity: float


class CashRequest(Model):
    account: str
    amount: float
    priority: Literal["high", "normal"]
    due: dt.date


class Restriction(Model):
    account: str | None = None
    household: str | None = None
    security: str | None = None
    sector: str | None = None


class Hold(Model):
    account: str
    start: dt.date
    end: dt.date | None = None  # None: open-ended
    reason: str = ""


class Halt(Model):
    security: str
    start: dt.date
    end: dt.date | None = None  # None: open-ended
    reason: str = ""


class Transaction(Model):
    account: str
    date: dt.date
    security: str
    side: Literal["buy", "sell"]
    quantity: float
    price: float
    realized_gain: float | None = None
    cost_basis: float | None = None  # sells: total $ basis of the shares sold


class LaterDate(Model):
    """The project's own key: a later date the book runs on, after the previous date's
    released trades filled at this date's prices."""

    as_of: RunDate
    prices: dict[str, float] = {}  # security -> close; a security not listed keeps its last
    expect: dict[str, Any] = {}


class Scenario(Model):
    name: str
    description: str = ""
    as_of: RunDate
    policy: ScenarioPolicy = ScenarioPolicy()
    securities: list[Security]
    models: dict[str, ModelPortfolio]
    accounts: list[Account]
    positions: list[Position] = []
    cash_requests: list[CashRequest] = []
    restrictions: list[Restriction] = []
    holds: list[Hold] = []
    halts: list[Halt] = []
    transactions: list[Transaction] = []
    expect: dict[str, Any] = {}
    dates: list[LaterDate] = []


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not follow the format."""


def _none_as_empty(data: dict[str, Any]) -> dict[str, Any]:
    """Optional keys may be present with an empty value (``policy:``, ``holds:``)."""
    return {k: v for k, v in data.items() if v is not None}


def load_scenario(path: Path) -> Scenario:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario: {exc}") from exc
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario is a YAML mapping, got {type(data).__name__}")
    try:
        return Scenario.model_validate(_none_as_empty(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ScenarioError(f"{path}: {problems}") from None
