"""Accounts, households and their lots, cash and daily transactions."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from rebalance_pipeline.generator.market import model_targets
from rebalance_pipeline.generator.writers import custodians_of_accounts

MIN_VALUE, MAX_VALUE = 50_000.0, 60_000_000.0
TAX_RATES = [(0.37, 0.20), (0.32, 0.15), (0.24, 0.15)]
REGISTRATIONS = ["taxable", "traditional_ira", "roth"]
TRANSACTION_TYPES = ["buy", "sell", "deposit", "withdrawal", "dividend"]
TRANSACTION_WEIGHTS = [0.3, 0.25, 0.15, 0.1, 0.2]
DAILY_ACTIVITY = 0.03  # share of accounts with a transaction each day


def build_accounts(
    rng: np.random.Generator,
    accounts: int,
    households: int,
    first_drop: dt.date,
    custodians: tuple[str, ...],
) -> pl.DataFrame:
    """Account master: households of 1-4 accounts, first account of a household taxable."""
    household_of = np.concatenate(
        [np.arange(households), _extra_members(rng, accounts - households, households)]
    )
    household_of.sort()
    first_in_household = np.r_[True, household_of[1:] != household_of[:-1]]
    registration = np.where(
        first_in_household, 0, rng.choice(len(REGISTRATIONS), size=accounts, p=[0.4, 0.4, 0.2])
    )
    models = sorted(model_targets()["model_id"].unique())
    household_model = rng.integers(0, len(models), size=households)
    rates = rng.integers(0, len(TAX_RATES), size=households)[household_of]
    taxable = registration == 0
    opened = [first_drop - dt.timedelta(days=int(d)) for d in rng.integers(1900, 3600, accounts)]
    return pl.DataFrame(
        {
            "account_id": [f"A{i + 1:06d}" for i in range(accounts)],
            "household_id": [f"H{h + 1:05d}" for h in household_of],
            "custodian": custodians_of_accounts(rng, accounts, custodians),
            "registration": [REGISTRATIONS[r] for r in registration],
            "model_id": [models[household_model[h]] for h in household_of],
            "st_rate": np.where(taxable, [TAX_RATES[r][0] for r in rates], 0.0),
            "lt_rate": np.where(taxable, [TAX_RATES[r][1] for r in rates], 0.0),
            "opened_date": opened,
            "value": np.exp(rng.uniform(np.log(MIN_VALUE), np.log(MAX_VALUE), accounts)),
        }
    )


def _extra_members(rng: np.random.Generator, extra: int, households: int) -> np.ndarray:
    """Households for the accounts beyond the first of each, at most three more each."""
    slots = np.repeat(np.arange(households), 3)
    return rng.choice(slots, size=extra, replace=False)


def initial_lots(
    rng: np.random.Generator,
    accounts: pl.DataFrame,
    closes: pl.DataFrame,
    first_drop: dt.date,
    max_lots: int,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Lots (about the model's weights, 1..max_lots per holding) and cash of each account,
    valued at ``closes`` (security_id, close) of ``first_drop``."""
    cash_share = rng.uniform(0.005, 0.03, accounts.height)
    holdings = (
        accounts.select("account_id", "model_id", "value")
        .with_columns(cash_share=cash_share)
        .join(model_targets(), on="model_id")
        .sort("account_id", "security_id")
        .join(closes, on="security_id")
    )
    noise = np.exp(rng.normal(0, 0.15, holdings.height))
    holdings = holdings.with_columns(weight=pl.col("target_weight") * noise).with_columns(
        weight=pl.col("weight")
        / pl.col("weight").sum().over("account_id")
        * (1 - pl.col("cash_share"))
    )
    holdings = holdings.with_columns(
        shares=(pl.col("value") * pl.col("weight") / pl.col("close")).floor(),
        lot_count=pl.Series(rng.integers(1, max_lots + 1, holdings.height)),
    ).filter(pl.col("shares") >= 1)
    lots = holdings.with_columns(part=pl.int_ranges(0, pl.col("lot_count"))).explode("part")
    fraction = rng.uniform(0.2, 1.0, lots.height)
    lots = (
        lots.with_columns(fraction=fraction)
        .with_columns(
            share=(pl.col("fraction") / pl.col("fraction").sum().over("account_id", "security_id"))
        )
        .with_columns(quantity=(pl.col("shares") * pl.col("share")).floor())
        .with_columns(
            quantity=pl.when(pl.col("part") == 0)
            .then(
                pl.col("shares")
                - pl.col("quantity").sum().over("account_id", "security_id")
                + pl.col("quantity")
            )
            .otherwise(pl.col("quantity"))
        )
        .filter(pl.col("quantity") >= 1)
    )
    held_days = np.where(
        rng.random(lots.height) < 0.25,
        rng.integers(20, 365, lots.height),
        rng.integers(366, 5 * 365, lots.height),
    )
    gain_factor = np.exp(rng.normal(0.12, 0.25, lots.height))
    lots = lots.with_columns(
        acquired_date=pl.lit(first_drop) - pl.duration(days=pl.Series(held_days)),
        cost_basis=(pl.col("quantity") * pl.col("close") / pl.Series(gain_factor)).round(2),
        lot_number=pl.int_range(1, pl.len() + 1).over("account_id"),
    ).with_columns(
        lot_id=pl.col("account_id") + "-L" + pl.col("lot_number").cast(pl.String).str.zfill(4)
    )
    cash = np.round(accounts["value"].to_numpy() * cash_share, 2)
    return lots.select(LOT_COLUMNS).sort("account_id", "lot_id"), cash


LOT_COLUMNS = ["account_id", "lot_id", "security_id", "quantity", "cost_basis", "acquired_date"]


@dataclasses.dataclass
class BookState:
    """The true economic state of every account, advanced one business day at a time."""

    accounts: pl.DataFrame
    lots: pl.DataFrame
    cash: np.ndarray  # by position in ``accounts``
    next_lot: dict[str, int]

    def positions(self) -> pl.DataFrame:
        return (
            self.lots.group_by("account_id", "security_id")
            .agg(pl.col("quantity").sum())
            .sort("account_id", "security_id")
        )

    def cash_frame(self) -> pl.DataFrame:
        return pl.DataFrame({"account_id": self.accounts["account_id"], "cash": self.cash.round(2)})

    def apply_split(self, security_id: str, ratio: float) -> None:
        self.lots = self.lots.with_columns(
            quantity=pl.when(pl.col("security_id") == security_id)
            .then(pl.col("quantity") * ratio)
            .otherwise(pl.col("quantity"))
        )

    def trade_day(
        self, rng: np.random.Generator, day: dt.date, closes: pl.DataFrame, frozen: set[str]
    ) -> pl.DataFrame:
        """Apply one day of custodian activity and return its transactions.

        Securities in ``frozen`` (halted or carrying a corporate action) are not traded.
        """
        price = dict(closes.iter_rows())
        active = np.flatnonzero(rng.random(self.accounts.height) < DAILY_ACTIVITY)
        kinds = rng.choice(len(TRANSACTION_TYPES), size=active.size, p=TRANSACTION_WEIGHTS)
        lots_of = {
            key[0]: frame
            for key, frame in self.lots.filter(
                pl.col("account_id").is_in(self.accounts["account_id"].gather(active).to_list())
                & ~pl.col("security_id").is_in(list(frozen))
            )
            .partition_by("account_id", as_dict=True)
            .items()
        }
        models = model_targets().filter(~pl.col("security_id").is_in(list(frozen)))
        rows, sold, bought = [], [], []
        for index, kind in zip(active.tolist(), kinds.tolist(), strict=True):
            account = self.accounts.row(index, named=True)
            account_id = account["account_id"]
            number = len(rows) + 1
            tx = {
                "transaction_id": f"T{day:%Y%m%d}-{number:06d}",
                "account_id": account_id,
                "trade_date": day,
                "type": TRANSACTION_TYPES[kind],
            }
            own_lots = lots_of.get(account_id)
            if tx["type"] == "buy":
                choices = models.filter(pl.col("model_id") == account["model_id"])["security_id"]
                security = choices[int(rng.integers(0, choices.len()))]
                quantity = float(np.floor(self.cash[index] * 0.8 / price[security]))
                if quantity < 1:
                    continue
                lot_id = self.new_lot_id(account_id)
                amount = round(quantity * price[security], 2)
                bought.append((account_id, lot_id, security, quantity, amount, day))
                tx |= {
                    "security_id": security,
                    "quantity": quantity,
                    "price": price[security],
                    "amount": -amount,
                    "lot_id": lot_id,
                }
            elif tx["type"] in ("sell", "dividend"):
                if own_lots is None:
                    continue
                lot = own_lots.row(int(rng.integers(0, own_lots.height)), named=True)
                security = lot["security_id"]
                if tx["type"] == "sell":
                    amount = round(lot["quantity"] * price[security], 2)
                    sold.append(lot["lot_id"])
                    tx |= {
                        "security_id": security,
                        "quantity": lot["quantity"],
                        "price": price[security],
                        "amount": amount,
                        "realized_gain": round(amount - lot["cost_basis"], 2),
                        "lot_id": lot["lot_id"],
                    }
                else:
                    amount = round(lot["quantity"] * price[security] * 0.004, 2)
                    tx |= {"security_id": security, "amount": amount}
            elif tx["type"] == "deposit":
                amount = round(account["value"] * 0.01, 2)
                tx["amount"] = amount
            else:
                amount = -round(self.cash[index] * 0.4, 2)
                tx["amount"] = amount
            self.cash[index] += tx["amount"]
            rows.append(tx)
        self.lots = pl.concat(
            [
                self.lots.filter(~pl.col("lot_id").is_in(sold)),
                pl.DataFrame(bought, schema=self.lots.schema, orient="row"),
            ]
        ).sort("account_id", "lot_id")
        return pl.DataFrame(rows, schema=TRANSACTION_SCHEMA)

    def new_lot_id(self, account_id: str) -> str:
        self.next_lot[account_id] = self.next_lot.get(account_id, 0) + 1
        return f"{account_id}-L{self.next_lot[account_id]:04d}"


TRANSACTION_SCHEMA = {
    "transaction_id": pl.String,
    "account_id": pl.String,
    "trade_date": pl.Date,
    "type": pl.String,
    "security_id": pl.String,
    "quantity": pl.Float64,
    "price": pl.Float64,
    "amount": pl.Float64,
    "realized_gain": pl.Float64,
    "lot_id": pl.String,
}


def start_state(accounts: pl.DataFrame, lots: pl.DataFrame, cash: np.ndarray) -> BookState:
    next_lot = dict(
        lots.group_by("account_id")
        .agg(pl.col("lot_id").str.slice(-4).cast(pl.Int64).max())
        .iter_rows()
    )
    return BookState(accounts, lots, cash, next_lot)
