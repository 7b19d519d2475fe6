"""The exact inputs of one account's optimization.

An ``AccountProblem`` holds plain numbers only, so it can be stored as one Parquet row
(``problems_to_frame``) and read back unchanged (``problems_from_frame``) to re-solve
one account alone; ``problem_table`` builds the stored rows from the feature frames.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import polars as pl

TAXABLE = "taxable"


@dataclasses.dataclass(frozen=True, eq=False)
class AccountProblem:
    """One account: its universe of securities, its lots and the rules on each.

    Security arrays are aligned with ``security_ids`` (sorted), lot arrays with
    ``lot_ids`` (sorted); ``lot_security`` is the index of each lot's security.
    ``account_value`` is total value less the due withdrawals (the V of the weights).
    An ``untradable`` security (a data-quality finding puts its price in doubt) stays in
    the universe, frozen at its current quantity, like a halted one under
    ``freeze_security``: it is held, it carries risk and its target is still the target.
    """

    account_id: str
    household_id: str
    registration: str
    st_rate: float
    lt_rate: float
    total_value: float
    cash: float
    required_cash: float
    security_ids: list[str]
    asset_classes: list[str]
    identical_groups: list[str]
    prices: np.ndarray
    ratings: np.ndarray
    round_lots: np.ndarray
    targets: np.ndarray
    quantities: np.ndarray
    halted: np.ndarray
    untradable: np.ndarray
    restricted: np.ndarray
    buy_blocked: np.ndarray  # wash-sale windows of the household
    lot_ids: list[str]
    lot_security: np.ndarray
    lot_quantities: np.ndarray
    lot_cost_basis: np.ndarray
    lot_long_term: np.ndarray
    # days until each lot turns long-term (0: it is); the long-term deferral's input
    lot_days_to_long_term: np.ndarray
    lot_loss_sale_blocked: np.ndarray
    band_classes: list[str]
    band_min: np.ndarray
    band_max: np.ndarray
    # annual vol of each security's asset class estimated from the price history (NaN: too
    # little history, the policy's default applies)
    class_vols: np.ndarray
    # average daily volume in shares (NaN: unknown, no market impact is modelled)
    volumes: np.ndarray
    # the kinds of the account's mandates today (features' MANDATES: cash_request, ...)
    mandates: list[str]
    # model targets without a usable close today: out of the universe (noted in the result)
    unpriced_targets: list[str]
    # features' DAYS_SINCE_TRADE (None: never traded); the trigger's input
    days_since_last_trade: int | None = None
    # the account master's rebalance type (tables.REBALANCE_TYPES): what trades may do
    rebalance_type: str = "normal"
    # the account group's long-term deferral window in days (0: no deferral)
    long_term_deferral_days: int = 0
    # features' GAIN_BUDGETS: the year's realized-gain budget (None: none), the net gains
    # realized so far, whether the history shows the whole year, and what today's trades
    # may realize (None: no budget)
    gain_budget_usd: float | None = None
    realized_gain_ytd: float = 0.0
    gain_year_complete: bool = True
    remaining_gain_budget_usd: float | None = None
    # features' TRANSITION_PROGRESS lists the account: it moves to its model from holdings
    # outside it (account master transition_start)
    in_transition: bool = False

    @property
    def account_value(self) -> float:
        return self.total_value - self.required_cash

    @property
    def is_taxable(self) -> bool:
        return self.registration == TAXABLE

    def frozen(self, halt_mode: str) -> np.ndarray:
        """Securities held at their current quantity: untradable ones, and halted ones
        under ``freeze_security`` (under ``skip_account`` routing stops the account)."""
        return self.untradable | (self.halted & (halt_mode == "freeze_security"))

    # Arrays derived from the fields are computed once per problem (the solve, the rounding
    # and the score each read them several times) and read-only, as the fields are never
    # changed: ``with_blocks`` copies them along, since none depends on the blocks.

    @functools.cached_property
    def lot_prices(self) -> np.ndarray:
        """The price of each lot's security."""
        return _read_only(self.prices[self.lot_security])

    @functools.cached_property
    def lot_market_values(self) -> np.ndarray:
        return _read_only(self.lot_quantities * self.lot_prices)

    @functools.cached_property
    def lot_gain_per_dollar(self) -> np.ndarray:
        """Realized gain per dollar sold of each lot (negative for a loss)."""
        value = self.lot_market_values
        safe = np.where(value > 0, value, 1.0)
        return _read_only(np.where(value > 0, 1.0 - self.lot_cost_basis / safe, 0.0))

    @functools.cached_property
    def lot_tax_rates(self) -> np.ndarray:
        """The account's rate on each lot's gain; zero outside taxable accounts."""
        if not self.is_taxable:
            return _read_only(np.zeros(len(self.lot_ids)))
        return _read_only(np.where(self.lot_long_term, self.lt_rate, self.st_rate))

    @functools.cached_property
    def lot_rank(self) -> np.ndarray:
        """Each lot's rank among the lots of its security, in lot order (0: the first)."""
        order = np.argsort(self.lot_security, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        first = np.searchsorted(self.lot_security[order], self.lot_security[order])
        rank[order] = np.arange(len(order)) - first
        return _read_only(rank)

    @functools.cached_property
    def factor_classes(self) -> tuple[str, ...]:
        """The account's risk factors: every asset class it holds, targets or has a band for."""
        return tuple(sorted(set(self.asset_classes) | set(self.band_classes)))

    def quality_per_dollar(self, bps_per_rating: float) -> np.ndarray:
        """Bonus per dollar bought: ``bps_per_rating`` per rating step above 3."""
        return bps_per_rating * 1e-4 * (self.ratings - 3.0)

    def in_groups(self, groups: set[str] | frozenset[str]) -> np.ndarray:
        """Per security: whether its identical group is one of ``groups``."""
        return np.array([g in groups for g in self.identical_groups], dtype=bool)

    def with_blocks(self, buy_groups: set[str], loss_sale_groups: set[str]) -> AccountProblem:
        """This problem with more identical groups blocked for buys / for loss sales."""
        if not buy_groups and not loss_sale_groups:
            return self
        buy = self.buy_blocked | self.in_groups(buy_groups)
        in_loss_sale_groups = self.in_groups(loss_sale_groups)[self.lot_security]
        at_loss = self.lot_gain_per_dollar < 0
        blocked_sale = in_loss_sale_groups & at_loss & self.is_taxable
        blocked = object.__new__(AccountProblem)
        # every field and the derived arrays (see above), but the blocks
        blocked.__dict__.update(
            self.__dict__,
            buy_blocked=buy,
            lot_loss_sale_blocked=self.lot_loss_sale_blocked | blocked_sale,
        )
        return blocked


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


_ARRAY_DTYPES = {
    "prices": np.float64,
    "ratings": np.float64,
    "round_lots": np.int64,
    "targets": np.float64,
    "quantities": np.float64,
    "halted": np.bool_,
    "untradable": np.bool_,
    "restricted": np.bool_,
    "buy_blocked": np.bool_,
    "lot_security": np.int64,
    "lot_quantities": np.float64,
    "lot_cost_basis": np.float64,
    "lot_long_term": np.bool_,
    "lot_days_to_long_term": np.int64,
    "lot_loss_sale_blocked": np.bool_,
    "band_min": np.float64,
    "band_max": np.float64,
    "class_vols": np.float64,
    "volumes": np.float64,
}
_POLARS_LIST = {np.float64: pl.List(pl.Float64), np.int64: pl.List(pl.Int64)}
_POLARS_LIST[np.bool_] = pl.List(pl.Boolean)
_SCALARS = {
    "account_id": pl.String,
    "household_id": pl.String,
    "registration": pl.String,
    "st_rate": pl.Float64,
    "lt_rate": pl.Float64,
    "total_value": pl.Float64,
    "cash": pl.Float64,
    "required_cash": pl.Float64,
    "days_since_last_trade": pl.Int64,
    "rebalance_type": pl.String,
    "long_term_deferral_days": pl.Int64,
    "gain_budget_usd": pl.Float64,
    "realized_gain_ytd": pl.Float64,
    "gain_year_complete": pl.Boolean,
    "remaining_gain_budget_usd": pl.Float64,
    "in_transition": pl.Boolean,
}
_STRING_LISTS = (
    "security_ids",
    "asset_classes",
    "identical_groups",
    "lot_ids",
    "band_classes",
    "mandates",
    "unpriced_targets",
)

PROBLEM_SCHEMA = pl.Schema(
    {
        **_SCALARS,
        **{name: pl.List(pl.String) for name in _STRING_LISTS},
        **{name: _POLARS_LIST[dtype] for name, dtype in _ARRAY_DTYPES.items()},
    }
)


def problems_to_frame(problems: list[AccountProblem]) -> pl.DataFrame:
    """One row per account, every array a list column (exact round trip)."""
    rows = []
    for p in problems:
        row = {name: getattr(p, name) for name in (*_SCALARS, *_STRING_LISTS)}
        row.update({name: getattr(p, name).tolist() for name in _ARRAY_DTYPES})
        rows.append(row)
    return pl.DataFrame(rows, schema=PROBLEM_SCHEMA)


def problems_from_frame(df: pl.DataFrame) -> list[AccountProblem]:
    """The problems of a problem table, in its row order. Each list column is read as
    one flat array and cut at the rows' lengths, not row by row."""
    arrays = {name: _cut_lists(df[name], dtype) for name, dtype in _ARRAY_DTYPES.items()}
    values = {name: df[name].to_list() for name in (*_SCALARS, *_STRING_LISTS)}
    columns = values | arrays
    fields = [field.name for field in dataclasses.fields(AccountProblem)]
    return [AccountProblem(*row) for row in zip(*(columns[name] for name in fields), strict=True)]


def _cut_lists(lists: pl.Series, dtype: type) -> list[np.ndarray]:
    """A list column as one array per row (rows share no memory)."""
    flat = lists.explode(empty_as_null=False).to_numpy().astype(dtype, copy=True)
    ends = np.cumsum(lists.list.len().to_numpy()).tolist()
    starts = [0, *ends][: len(ends)]
    # slices, as np.split cuts but without its per-piece overhead
    return [flat[start:end] for start, end in zip(starts, ends, strict=True)]
