"""The closed loop: each simulated day the real stages (``workflow.run_stages``) decide
over a ``Book`` built from the simulated state, and the released trades are filled at
the next business day's close with the modelled transaction costs.

Order of one day: fill yesterday's released trades (sells consume the lot they name,
buys open a lot dated the fill day), settle the day's deposits, pay due withdrawals the
cash covers (an unpaid one stays a cash request, a mandate), then build the day's book,
run the stages and keep the released trades for tomorrow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import numpy as np
import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.features.macros import active_on
from rebalance_pipeline.generator.accounts import BookState, start_state
from rebalance_pipeline.generator.market import model_targets
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.simulation.config import SimulationConfig, Variant
from rebalance_pipeline.simulation.policies import variant_bands, variant_policy
from rebalance_pipeline.simulation.records import ACCOUNT_DAYS, FILLS
from rebalance_pipeline.simulation.world import World, build_world
from rebalance_pipeline.workflow import DateOutputs, run_stages

SOURCE_FILE = "simulation"
PRICE_SOURCE = "market"
# transactions older than this are left out of a day's book: the wash-sale window is 30
# days and days since the last trade come from the firm's own last trade date
TRANSACTION_WINDOW_DAYS = 45
LONG_TERM_DAYS = 365


@dataclasses.dataclass(frozen=True)
class SimulatedDay:
    """One simulated day: the book the stages saw (after the day's fills and flows),
    what they decided, the fills of the day and the account-day records."""

    book: Book
    outputs: DateOutputs
    fills: pl.DataFrame  # records.FILLS, and the cost_basis and acquired_date of each sale
    cash_flows: pl.DataFrame  # account_id, amount: deposits (+) and withdrawals (-) settled
    account_days: pl.DataFrame  # records.ACCOUNT_DAYS


@dataclasses.dataclass
class Ledger:
    """What evolves over the simulated days for one variant."""

    state: BookState
    transactions: list[dict]
    open_requests: pl.DataFrame  # world.withdrawals not yet paid
    last_fill_day: dict[str, dt.date]
    previous_value: dict[str, float]
    orders: pl.DataFrame  # released trades waiting for tomorrow's fill
    index: dict[str, int] = dataclasses.field(init=False)  # account -> position in cash

    def __post_init__(self) -> None:
        self.index = {a: i for i, a in enumerate(self.state.accounts["account_id"])}

    def cash_of(self, account_id: str) -> float:
        return float(self.state.cash[self.index[account_id]])

    def add_cash(self, account_id: str, amount: float) -> None:
        index = self.index[account_id]
        self.state.cash[index] = round(float(self.state.cash[index]) + amount, 2)


def simulate(
    config: SimulationConfig, variant: Variant, world: World | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """records.ACCOUNT_DAYS and records.FILLS of one variant over every simulated day."""
    days = list(simulated_days(config, variant, world))
    account_days = pl.concat([d.account_days for d in days]).sort("day", "account_id")
    fills = t.conform(pl.concat([d.fills for d in days]), FILLS).sort(
        "day", "account_id", "side", "lot_id"
    )
    return account_days, fills


def simulated_days(
    config: SimulationConfig, variant: Variant, world: World | None = None
) -> Iterator[SimulatedDay]:
    world = world or build_world(config)
    policy = variant_policy(config, variant)
    bands = variant_bands(config, variant, world.securities)
    ledger = Ledger(
        state=start_state(world.accounts, world.lots, world.cash.copy()),
        transactions=[],
        open_requests=world.withdrawals,
        last_fill_day={},
        previous_value={},
        orders=t.empty(t.PROPOSED_TRADES),
    )
    for number, day in enumerate(world.days):
        closes = world.closes_on(day)
        price = dict(closes.iter_rows())
        fills = _fill_orders(ledger, world, variant, day, price, policy)
        cash_flows = _settle_cash_flows(ledger, world, day)
        book = _book(world, ledger, bands, day, policy)
        outputs = run_stages(book, policy)
        released = outputs.routing.released_trades
        last_day = number == len(world.days) - 1
        ledger.orders = released.clear() if last_day else released
        _note_firm_trades(ledger, released, day)
        records = _account_days(world, ledger, variant, day, outputs, fills, cash_flows, number)
        yield SimulatedDay(book, outputs, fills, cash_flows, records)


def _fill_orders(
    ledger: Ledger,
    world: World,
    variant: Variant,
    day: dt.date,
    price: dict[str, float],
    policy: Policy,
) -> pl.DataFrame:
    """Fill yesterday's released trades at today's close (``fill_orders``); no security
    halted today fills."""
    halted = set(active_on(world.halts, day)["security_id"])
    orders = ledger.orders.filter(~pl.col("security_id").is_in(list(halted)))
    rows = fill_orders(ledger, orders, day, price, policy)
    return pl.DataFrame(
        [{"variant": variant.name, "day": day, **row} for row in rows],
        schema={**FILLS, "cost_basis": pl.Float64, "acquired_date": pl.Date},
    )


def fill_orders(
    ledger: Ledger, orders: pl.DataFrame, day: dt.date, price: dict[str, float], policy: Policy
) -> list[dict]:
    """Fill released trades (tables.PROPOSED_TRADES rows) at ``price`` with the policy's
    linear transaction cost, sells before buys; buys the cash left cannot pay for are
    scaled down (prices moved since the decision). The ledger's lots, cash, last fill
    days and transactions take the fills; one row per fill (records.FILLS' trade
    columns, and the cost_basis and acquired_date of each sale)."""
    cost_rate = policy.optimization.transaction_cost_bps / 10_000
    trading = pl.col("account_id").is_in(orders["account_id"].unique().implode())
    # only the lots of accounts with orders change: the others stay a frame
    lots = {row["lot_id"]: row for row in ledger.state.lots.filter(trading).iter_rows(named=True)}
    rows: list[dict] = []
    for (account_id,), trades in orders.sort("account_id").group_by(
        "account_id", maintain_order=True
    ):
        for sell in trades.filter(pl.col("side") == "sell").sort("lot_id").iter_rows(named=True):
            rows.append(_sell(ledger, lots, sell, day, price, cost_rate))
        buys = trades.filter(pl.col("side") == "buy").sort("security_id")
        rows.extend(_buys(ledger, lots, buys, account_id, day, price, cost_rate))
    changed = pl.DataFrame(list(lots.values()), schema=ledger.state.lots.schema)
    ledger.state.lots = (
        pl.concat([ledger.state.lots.filter(~trading), changed])
        .filter(pl.col("quantity") > 0)
        .sort("account_id", "lot_id")
    )
    for row in rows:
        ledger.last_fill_day[row["account_id"]] = day
    for row in rows:
        sign = 1.0 if row["side"] == "sell" else -1.0
        _record_transaction(
            ledger,
            day,
            row["account_id"],
            row["side"],
            round(sign * row["amount"] - row["cost"], 2),
            **{k: row[k] for k in ("security_id", "quantity", "price", "lot_id")},
            realized_gain=row["realized_gain"],
            cost_basis=row["cost_basis"],
        )
    return rows


def _sell(
    ledger: Ledger,
    lots: dict[str, dict],
    order: dict,
    day: dt.date,
    price: dict[str, float],
    cost_rate: float,
) -> dict:
    lot = lots[order["lot_id"]]
    quantity = min(order["quantity"], lot["quantity"])
    amount = round(quantity * price[lot["security_id"]], 2)
    cost = round(amount * cost_rate, 2)
    basis = round(lot["cost_basis"] * quantity / lot["quantity"], 2)
    lot["cost_basis"] = round(lot["cost_basis"] - basis, 2)
    lot["quantity"] -= quantity
    ledger.add_cash(order["account_id"], amount - cost)
    return {
        "account_id": order["account_id"],
        "security_id": lot["security_id"],
        "side": "sell",
        "lot_id": order["lot_id"],
        "quantity": quantity,
        "price": price[lot["security_id"]],
        "amount": amount,
        "cost": cost,
        "realized_gain": round(amount - cost - basis, 2),
        "cost_basis": basis,
        "acquired_date": lot["acquired_date"],
    }


def _buys(
    ledger: Ledger,
    lots: dict[str, dict],
    buys: pl.DataFrame,
    account_id: str,
    day: dt.date,
    price: dict[str, float],
    cost_rate: float,
) -> list[dict]:
    needed = sum(
        q * price[s] * (1 + cost_rate)
        for s, q in buys.select("security_id", "quantity").iter_rows()
    )
    cash = ledger.cash_of(account_id)
    scale = min(1.0, cash / needed) if needed > 0 else 1.0
    rows = []
    for buy in buys.iter_rows(named=True):
        quantity = float(np.floor(buy["quantity"] * scale))
        if quantity <= 0:
            continue
        amount = round(quantity * price[buy["security_id"]], 2)
        cost = round(amount * cost_rate, 2)
        lot_id = ledger.state.new_lot_id(account_id)
        lots[lot_id] = {
            "account_id": account_id,
            "lot_id": lot_id,
            "security_id": buy["security_id"],
            "quantity": quantity,
            "cost_basis": amount,
            "acquired_date": day,
        }
        ledger.add_cash(account_id, -(amount + cost))
        rows.append(
            {
                "account_id": account_id,
                "security_id": buy["security_id"],
                "side": "buy",
                "lot_id": lot_id,
                "quantity": quantity,
                "price": price[buy["security_id"]],
                "amount": amount,
                "cost": cost,
                "realized_gain": None,
                "cost_basis": None,
                "acquired_date": day,
            }
        )
    return rows


def _record_transaction(
    ledger: Ledger, day: dt.date, account_id: str, kind: str, amount: float, **trade: object
) -> None:
    """A custodian transaction (tables.TRANSACTIONS); ``amount`` is the signed cash effect."""
    number = len(ledger.transactions) + 1
    ledger.transactions.append(
        {
            "transaction_id": f"SIM-{day:%Y%m%d}-{number:07d}",
            "account_id": account_id,
            "trade_date": day,
            "type": kind,
            "amount": amount,
            **trade,
        }
    )


def _settle_cash_flows(ledger: Ledger, world: World, day: dt.date) -> pl.DataFrame:
    """Deposits of the day, then each due withdrawal the account's cash covers."""
    settled = []
    for account_id, amount in (
        world.deposits.filter(pl.col("day") == day).select("account_id", "amount").iter_rows()
    ):
        ledger.add_cash(account_id, amount)
        _record_transaction(ledger, day, account_id, "deposit", amount)
        settled.append((account_id, amount))
    paid = []
    due = ledger.open_requests.filter(pl.col("due_date") <= day).sort("due_date", "request_id")
    for request_id, account_id, amount in due.select(
        "request_id", "account_id", "amount"
    ).iter_rows():
        if ledger.cash_of(account_id) >= amount:
            ledger.add_cash(account_id, -amount)
            _record_transaction(ledger, day, account_id, "withdrawal", -amount)
            settled.append((account_id, -amount))
            paid.append(request_id)
    ledger.open_requests = ledger.open_requests.filter(~pl.col("request_id").is_in(paid))
    return pl.DataFrame(
        settled, schema={"account_id": pl.String, "amount": pl.Float64}, orient="row"
    )


def _book(world: World, ledger: Ledger, bands: pl.DataFrame, day: dt.date, policy: Policy) -> Book:
    """The canonical book of ``day`` from the simulated state, as ingest would read it."""
    accounts = ledger.state.accounts
    custodian = accounts.select("account_id", "custodian")
    source = {"source_file": pl.lit(SOURCE_FILE), "source_row": pl.int_range(1, pl.len() + 1)}
    symbols = world.securities.select("security_id", "symbol")
    lots = ledger.state.lots.join(symbols, on="security_id").join(custodian, on="account_id")
    positions = (
        ledger.state.positions().join(symbols, on="security_id").join(custodian, on="account_id")
    )
    history_days = previous_business_days(day, policy.validation.lookback_business_days)
    transactions = pl.DataFrame(
        ledger.transactions,
        schema={k: v for k, v in t.TRANSACTIONS.items() if k not in ("symbol", *t.SOURCE)},
    ).filter(pl.col("trade_date") >= day - dt.timedelta(days=TRANSACTION_WINDOW_DAYS))
    return Book.from_frames(
        day,
        accounts=accounts,
        securities=world.securities,
        model_targets=model_targets(),
        model_bands=bands,
        restrictions=world.restrictions,
        cash_requests=ledger.open_requests.filter(pl.col("created") <= day),
        holds=world.holds,
        halts=world.halts,
        prices=_prices(world, [day]),
        price_history=_prices(world, [d for d in history_days if d in world.sessions]),
        positions=positions.with_columns(**source),
        lots=lots.with_columns(**source),
        transactions=transactions.join(symbols, on="security_id", how="left")
        .join(custodian, on="account_id")
        .with_columns(**source),
        cash_balances=ledger.state.cash_frame()
        .join(custodian, on="account_id")
        .with_columns(**source),
    )


def _prices(world: World, days: list[dt.date]) -> pl.DataFrame:
    frames = [world.closes_on(day).with_columns(price_date=pl.lit(day)) for day in days]
    return (
        pl.concat(frames)
        .join(world.securities.select("security_id", "symbol"), on="security_id")
        .with_columns(
            custodian=pl.lit(PRICE_SOURCE),
            source_file=pl.lit(SOURCE_FILE),
            source_row=pl.int_range(1, pl.len() + 1),
        )
    )


def _note_firm_trades(ledger: Ledger, released: pl.DataFrame, day: dt.date) -> None:
    """The firm's last trade date of every account it released trades for today."""
    traded = released["account_id"].unique().to_list()
    ledger.state.accounts = ledger.state.accounts.with_columns(
        last_firm_trade_date=pl.when(pl.col("account_id").is_in(traded))
        .then(pl.lit(day))
        .otherwise(pl.col("last_firm_trade_date"))
    )


def _account_days(
    world: World,
    ledger: Ledger,
    variant: Variant,
    day: dt.date,
    outputs: DateOutputs,
    fills: pl.DataFrame,
    cash_flows: pl.DataFrame,
    number: int,
) -> pl.DataFrame:
    """records.ACCOUNT_DAYS of ``day``."""
    closes = world.closes_on(day)
    value = (
        ledger.state.positions()
        .join(closes, on="security_id")
        .group_by("account_id")
        .agg(market_value=(pl.col("quantity") * pl.col("close")).sum())
    )
    accounts = ledger.state.accounts
    taxes = _fill_taxes(fills, accounts, day)
    flows = cash_flows.group_by("account_id").agg(cash_flow=pl.col("amount").sum())
    frame = (
        accounts.select("account_id", "household_id", "model_id", "registration")
        .join(ledger.state.cash_frame(), on="account_id")
        .join(value, on="account_id", how="left")
        .join(flows, on="account_id", how="left")
        .join(taxes, on="account_id", how="left")
        .join(_model_returns(world, day, number), on="model_id", how="left")
        .join(
            outputs.features["account_valuations"].select("account_id", "account_group"),
            on="account_id",
            how="left",
        )
        .join(
            outputs.optimization_results.select(
                "account_id", tracking_error="tracking_error_before"
            ),
            on="account_id",
            how="left",
        )
        .join(
            outputs.validation.account_status.select(
                "account_id", suspended=pl.col("status") == "suspended"
            ),
            on="account_id",
            how="left",
        )
        .with_columns(
            pl.col("market_value", "cash_flow", "turnover", "transaction_costs").fill_null(0.0),
            pl.col("realized_gains", "harvested_losses", "taxes_paid").fill_null(0.0),
        )
        .with_columns(value=(pl.col("market_value") + pl.col("cash")).round(2))
    )
    previous = pl.DataFrame(
        list(ledger.previous_value.items()),
        schema={"account_id": pl.String, "previous_value": pl.Float64},
        orient="row",
    )
    last_fill = pl.DataFrame(
        list(ledger.last_fill_day.items()),
        schema={"account_id": pl.String, "last_fill_day": pl.Date},
        orient="row",
    )
    frame = (
        frame.join(previous, on="account_id", how="left")
        .join(last_fill, on="account_id", how="left")
        .with_columns(
            variant=pl.lit(variant.name),
            policy=pl.lit(variant.policy),
            tax_aversion=pl.lit(variant.tax_aversion),
            day=pl.lit(day),
            taxable=pl.col("registration") == "taxable",
            account_return=(
                (pl.col("value") - pl.col("previous_value") - pl.col("cash_flow"))
                / pl.col("previous_value")
            ).fill_null(0.0),
            traded=pl.col("account_id").is_in(fills["account_id"].unique().to_list()),
            days_since_last_trade=(pl.lit(day) - pl.col("last_fill_day")).dt.total_days(),
            suspended=pl.col("suspended").fill_null(False),
        )
    )
    ledger.previous_value = dict(frame.select("account_id", "value").iter_rows())
    return t.conform(frame, ACCOUNT_DAYS).sort("account_id")


def _fill_taxes(fills: pl.DataFrame, accounts: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """Per account: turnover, costs, and (taxable accounts only) gains, harvested losses
    and the tax on the day's net realized gains, short- and long-term at their rates."""
    gain = pl.col("realized_gain").fill_null(0.0)
    taxable = pl.col("registration") == "taxable"
    long_term = (pl.lit(day) - pl.col("acquired_date")).dt.total_days() > LONG_TERM_DAYS
    rate = pl.when(long_term).then(pl.col("lt_rate")).otherwise(pl.col("st_rate"))
    return (
        fills.join(
            accounts.select("account_id", "registration", "st_rate", "lt_rate"), on="account_id"
        )
        .group_by("account_id")
        .agg(
            turnover=pl.col("amount").sum(),
            transaction_costs=pl.col("cost").sum(),
            realized_gains=pl.when(taxable).then(gain.clip(lower_bound=0)).otherwise(0.0).sum(),
            harvested_losses=pl.when(taxable).then(-gain.clip(upper_bound=0)).otherwise(0.0).sum(),
            taxes_paid=pl.when(taxable).then(gain * rate).otherwise(0.0).sum().clip(lower_bound=0),
        )
    )


def _model_returns(world: World, day: dt.date, number: int) -> pl.DataFrame:
    """Each model's return from the previous session's close (0 on the first day)."""
    today = world.closes_on(day)
    before = world.closes_on(world.sessions[world.sessions.index(day) - 1])
    move = today.join(before, on="security_id", suffix="_before").select(
        "security_id", move=pl.col("close") / pl.col("close_before") - 1
    )
    returns = (
        model_targets()
        .join(move, on="security_id")
        .group_by("model_id")
        .agg(model_return=(pl.col("target_weight") * pl.col("move")).sum())
    )
    return returns.with_columns(model_return=pl.col("model_return") * (number > 0))
