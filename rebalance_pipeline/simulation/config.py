"""What to simulate: the book, the market, the cash flows and the policy variants, read
from YAML and validated by pydantic (unknown keys and wrong types are errors)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rebalance_pipeline.calendar import outside_sessions
from rebalance_pipeline.generator.config import check_household_sizes
from rebalance_pipeline.policy import ThresholdCurve

PolicyName = Literal[
    "calendar-monthly",
    "calendar-quarterly",
    "calendar-annual",
    "band-absolute",
    "band-relative",
    "cost-benefit-fixed",
    "cost-benefit-decay",
]
TaxAversion = Literal["low", "medium", "high"]
ALL_POLICIES: tuple[PolicyName, ...] = PolicyName.__args__  # type: ignore[attr-defined]
ALL_TAX_AVERSIONS: tuple[TaxAversion, ...] = TaxAversion.__args__  # type: ignore[attr-defined]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Drawdown(Strict):
    """A fall of ``depth`` spread evenly over ``days`` business days of the asset classes."""

    start_day: int = Field(ge=0, description="business day of the simulation it starts on")
    days: int = Field(ge=1)
    depth: float = Field(gt=0, lt=1, description="0.2: the classes lose 20% over the days")
    asset_classes: list[str] = ["us_equity", "intl_equity"]


class MarketConfig(Strict):
    """Daily closes: a factor per asset class (the generator's drift and volatility) plus
    a security-specific part, so funds of one class move together."""

    within_class_correlation: float = Field(0.9, ge=0, le=1)
    equity_correlation: float = Field(0.6, ge=0, le=1, description="between equity classes")
    other_correlation: float = Field(0.1, ge=0, le=1)
    drawdowns: list[Drawdown] = []


class CashFlowConfig(Strict):
    """Per account and business day: the chance of a deposit and of a withdrawal request,
    each a share of the account's starting value; a withdrawal is due ``notice_days``
    business days after it is requested."""

    deposit_rate: float = Field(0.004, ge=0, le=1)
    deposit_share: float = Field(0.02, ge=0)
    withdrawal_rate: float = Field(0.004, ge=0, le=1)
    withdrawal_share: float = Field(0.03, ge=0)
    notice_days: int = Field(3, ge=0)
    high_priority_share: float = Field(0.3, ge=0, le=1)


class SimulationConfig(Strict):
    seed: int = 0
    accounts: int = Field(30, ge=2)
    households: int = Field(12, ge=1)
    days: int = Field(60, ge=2, description="simulated business days")
    start_date: dt.date = dt.date(2025, 1, 2)
    warmup_days: int = Field(60, ge=5, description="business days of prices before the start")
    max_lots_per_holding: int = Field(3, ge=1)
    market: MarketConfig = MarketConfig()
    cash_flows: CashFlowConfig = CashFlowConfig()
    policies: list[PolicyName] = list(ALL_POLICIES)
    tax_aversions: list[TaxAversion] = list(ALL_TAX_AVERSIONS)
    fixed_threshold_bps: float = Field(
        50.0, ge=0, description="cost-benefit-fixed: the one threshold of every group"
    )
    absolute_band: float = Field(0.05, gt=0, description="band-absolute: class target +- this")
    relative_band: float = Field(0.2, gt=0, description="band-relative: class target x (1 +- this)")

    @model_validator(mode="after")
    def _check(self) -> SimulationConfig:
        check_household_sizes(self.accounts, self.households)
        outside = outside_sessions(self.start_date, self.warmup_days, self.days)
        if outside is not None:
            raise ValueError(outside)
        return self

    def variants(self) -> list[Variant]:
        return [Variant(p, t) for p in self.policies for t in self.tax_aversions]


@dataclasses.dataclass(frozen=True)
class Variant:
    """A policy at a tax aversion; ``thresholds``: account group name and the threshold
    curve that replaces the group's own (the sweep's runs)."""

    policy: PolicyName
    tax_aversion: TaxAversion
    thresholds: tuple[tuple[str, ThresholdCurve], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.policy}/tax-{self.tax_aversion}"


def load_config(path: Path) -> SimulationConfig:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return SimulationConfig.model_validate({} if data is None else data)
