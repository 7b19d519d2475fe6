"""The firm policy: every rule of the workflow that a firm sets, validated by pydantic.

The policy lives in effective-dated YAML files (``data/firm/policy/YYYY-MM-DD.yaml``);
the file with the latest effective date on or before the partition date applies.
A file only needs the keys it changes: everything else takes the defaults below, which
are the firm defaults the acceptance books assume.

Values are strict: ``round_lots: "yes"`` is not a boolean and ``stale_price_days: 2.5``
not an integer. A policy file that does not load is a :class:`PolicyError` whose one
line names the file and every wrong field: the date fails before any stage runs.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

ReviewPolicy = Literal["none", "outliers", "all"]
Registration = Literal["taxable", "traditional_ira", "roth"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _time_of_day(value: Any) -> Any:
    """A time of day is written as a quoted "HH:MM" string; YAML 1.1 reads an unquoted
    7:15 as the number 435 (base 60), which strict validation then refuses."""
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            raise ValueError(f"a time of day is written HH:MM, not {value!r}") from None
    return value


TimeOfDay = Annotated[dt.time, BeforeValidator(_time_of_day)]


class ValidationPolicy(Strict):
    stale_price_days: int = Field(3, ge=1, description="unchanged close for this many days")
    price_jump: float = Field(0.25, gt=0, description="|close/previous - 1| above this")
    late_file_cutoff: TimeOfDay = Field(
        dt.time(6, 30), description="files must arrive by this UTC time on the next day"
    )
    row_count_tolerance: float = Field(
        0.5, gt=0, lt=1, description="detail rows below (1 - tol) x recent median: truncated"
    )
    reconciliation_tolerance: float = Field(1e-6, ge=0, description="shares")
    lookback_business_days: int = Field(60, ge=5)


class ThresholdCurve(Strict):
    """Score threshold in bps that decays with days since the last trade.

    threshold(d) = floor + (start - floor) * exp(-d / time_constant_days)
    """

    start_bps: float = 150.0
    floor_bps: float = 15.0
    time_constant_days: float = Field(60.0, gt=0)

    def at(self, days_since_last_trade: int | None) -> float:
        if days_since_last_trade is None:
            return self.floor_bps
        decay = math.exp(-days_since_last_trade / self.time_constant_days)
        return self.floor_bps + (self.start_bps - self.floor_bps) * decay


class AccountGroup(Strict):
    """Accounts whose total value lies in [min_value, max_value) (and, if given, whose
    registration is listed) form a group with its own review level and threshold."""

    name: str
    min_value: float = 0.0
    max_value: float = math.inf
    registrations: list[Registration] | None = None
    review: ReviewPolicy = "none"
    threshold: ThresholdCurve = ThresholdCurve()
    long_term_deferral_days: int | None = Field(
        None,
        ge=0,
        description="a lot of a taxable account with a short-term gain that turns long-term "
        "within this many days is not sold unless a mandate needs it (none or 0: off)",
    )
    gain_budget_usd: float | None = Field(
        None,
        ge=0,
        description="annual budget of net realized gains of a taxable account in dollars "
        "(with gain_budget_pct too, the smaller applies; none: no budget)",
    )
    gain_budget_pct: float | None = Field(
        None,
        ge=0,
        description="annual budget of net realized gains of a taxable account in % of its "
        "total value (none: no budget); the account master's gain_budget overrides both",
    )


def _default_groups() -> list[AccountGroup]:
    return [
        AccountGroup(name="small", max_value=1_000_000, review="none"),
        AccountGroup(name="mid", min_value=1_000_000, max_value=25_000_000, review="outliers"),
        AccountGroup(name="uhnw", min_value=25_000_000, review="all"),
    ]


class OutlierPolicy(Strict):
    max_turnover_pct: float = 25.0
    max_realized_gain_usd: float = 100_000.0
    max_realized_gain_pct: float = 2.0
    max_residual_tracking_error_bps: float = 150.0
    max_trade_count: int = 40
    peer_zscore: float = 3.0


class WorkflowPolicy(Strict):
    trigger: Literal["cost_benefit", "calendar", "bands"] = "cost_benefit"
    calendar_days: int = Field(90, ge=1, description="trigger=calendar: trade every N days")
    halt_mode: Literal["skip_account", "freeze_security"] = "skip_account"
    step2_high_priority_only: bool = False
    propose_untriggered: bool = Field(
        True,
        description=(
            "false: an account without a mandate that the trigger cannot trade today "
            "(trigger=bands, or a calendar day not due) gets no proposal, only its risk: "
            "no proposal of it could be traded (the simulation's setting; a daily run keeps "
            "every proposal for explain)"
        ),
    )

    def calendar_due(self, days_since_last_trade: int | None) -> bool:
        """trigger=calendar: the periodic trade is due (an account never traded is due)."""
        return days_since_last_trade is None or days_since_last_trade >= self.calendar_days

    def score_may_trade(self, days_since_last_trade: int | None) -> bool:
        """Whether the trigger may route the account to SCORE today, whatever it proposes:
        always under cost_benefit, never under bands, on due days under calendar."""
        if self.trigger == "bands":
            return False
        return self.trigger == "cost_benefit" or self.calendar_due(days_since_last_trade)


class RiskModelPolicy(Strict):
    """The default asset-class factor model, used when there is not enough history."""

    class_vol: dict[str, float] = {
        "us_equity": 0.16,
        "intl_equity": 0.18,
        "us_bonds": 0.05,
    }
    default_class_vol: float = 0.15
    within_class_correlation: float = 0.95
    equity_correlation: float = 0.6
    other_correlation: float = 0.1
    specific_vol: float = 0.02
    history_min_days: int = Field(
        40, ge=2, description="daily returns a class needs before its vol is estimated"
    )
    history_max_daily_move: float = Field(
        0.25, gt=0, description="returns beyond this are data faults, left out of the estimate"
    )


class OptimizationPolicy(Strict):
    tax_aversion: Literal["low", "medium", "high"] = "medium"
    tax_aversion_weights: dict[str, float] = {"low": 0.5, "medium": 1.0, "high": 2.0}
    active_variance_price: float = Field(
        50.0, description="dollars per unit of annual active variance, per dollar of value"
    )
    transaction_cost_bps: float = 5.0
    market_impact_coefficient: float = 0.0
    band_violation_price: float = Field(
        10.0, ge=0, description="dollars per dollar of value by which a class misses its band"
    )
    quality_bonus_bps_per_rating: float = 0.0
    transition_value_per_dollar: float = Field(
        1.0,
        ge=0,
        description="dollars of benefit per dollar of holdings outside its model an account in "
        "transition sells: above the tax a dollar's sale can cost (rate x tax weight x gain "
        "per dollar, under 1 at the default weights), so its gain budget, not the tax, sets "
        "the pace of the transition",
    )
    min_trade_usd: float = 0.0
    round_lots: bool = False
    wash_resolve_min_pct: float = Field(
        0.25,
        ge=0,
        description="a same-day buy of a group the account sells at a loss is dropped when it "
        "is under this % of the account's value; larger ones re-solve without that buy",
    )
    max_cross_class_shift_pct: float | None = Field(
        None,
        ge=0,
        description="at most this % of the account's value bought into asset classes beyond "
        "what idle cash pays for (money moved from one class to another); none = no limit",
    )
    household_asset_location: bool = Field(
        False,
        description="optimize the accounts of a household that follow one model together: one "
        "problem per household, the combined holdings tracking the model (optimization/"
        "household.py); off: each account alone",
    )
    asset_location_bps: dict[str, float] = Field(
        {"us_bonds": 50.0},
        description="bps per dollar of an asset class held in a taxable account rather than a "
        "tax-deferred one (its income's yearly tax drag); householded accounts only",
    )
    risk_model: RiskModelPolicy = RiskModelPolicy()
    solver: str = "CLARABEL"
    fallback_solver: str = "SCS"
    accounts_per_shard: int = Field(1000, ge=1)
    shards_per_worker: int = Field(2, ge=1)

    @property
    def tax_weight(self) -> float:
        return self.tax_aversion_weights[self.tax_aversion]


class ContinuityPolicy(Strict):
    """How a date treats what the firm released before it (see rebalance_pipeline/continuity)."""

    pending_orders: Literal["net", "hold"] = Field(
        "net",
        description="net: released trades not yet executed are netted into lots, positions "
        "and cash before optimizing; hold: accounts with such trades are held (HOLD)",
    )
    pending_expiry_business_days: int = Field(
        5, ge=1, description="a released trade unseen this many business days later expires"
    )
    cash_request_overdue_business_days: int = Field(
        3, ge=0, description="a raised cash request unpaid this long after its due date"
    )
    fill_tolerance: float = Field(1e-6, ge=0, description="shares; a fill within it is complete")


class Policy(Strict):
    effective_date: dt.date | None = None
    validation: ValidationPolicy = ValidationPolicy()
    account_groups: list[AccountGroup] = Field(default_factory=_default_groups, min_length=1)
    workflow: WorkflowPolicy = WorkflowPolicy()
    optimization: OptimizationPolicy = OptimizationPolicy()
    outliers: OutlierPolicy = OutlierPolicy()
    continuity: ContinuityPolicy = ContinuityPolicy()

    def group_for(self, value: float, registration: str) -> AccountGroup:
        """The first group whose value range (and registrations, if set) match."""
        for group in self.account_groups:
            in_range = group.min_value <= value < group.max_value
            if in_range and (group.registrations is None or registration in group.registrations):
                return group
        return self.account_groups[-1]


POLICY_FILE_NAME = re.compile(r"\d{4}-\d{2}-\d{2}\.yaml")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message is one line naming the file and,
    for a wrong value, every field at fault."""


def _field_errors(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'the file'}: {e['msg']} (got {e['input']!r})"
        for e in error.errors(include_url=False)
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_policy(path: Path) -> Policy:
    """The policy of one file; :class:`PolicyError` if it cannot be read or is wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Policy.model_validate({} if data is None else data)
    except ValidationError as error:
        raise PolicyError(f"policy file {path}: {_one_line(_field_errors(error))}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise PolicyError(f"policy file {path} cannot be read: {_one_line(str(error))}") from None


def book_policy(book: Path, as_of: dt.date) -> Policy:
    """The policy in force on ``as_of`` in a book's ``firm/policy/`` folder."""
    return policy_as_of(book / "firm" / "policy", as_of)


def policy_files(policy_dir: Path) -> dict[dt.date, Path]:
    """Effective date -> policy file. Only files named ``YYYY-MM-DD.yaml`` are policies;
    anything else in the folder (a README, an editor's backup) is not read. A name of
    that shape that is no date (``2026-02-30.yaml``) is a :class:`PolicyError`."""
    files = {}
    for path in policy_dir.glob("*.yaml"):
        if not (path.is_file() and POLICY_FILE_NAME.fullmatch(path.name)):
            continue
        try:
            files[dt.date.fromisoformat(path.stem)] = path
        except ValueError:
            raise PolicyError(f"policy file {path}: the name is not a date") from None
    return files


def policy_as_of(policy_dir: Path, as_of: dt.date) -> Policy:
    """The policy file with the latest effective date on or before ``as_of``; with none
    in force the defaults apply."""
    in_force = [(day, path) for day, path in policy_files(policy_dir).items() if day <= as_of]
    if not in_force:
        return Policy()
    effective, path = max(in_force)
    return load_policy(path).model_copy(update={"effective_date": effective})
