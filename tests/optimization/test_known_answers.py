"""Known answers on the acceptance books, with the default risk model and policy."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from conftest import (
    BALANCED,
    SECURITIES,
    account,
    at_target_lots,
    lot,
    policy_with,
    problems_for,
    security,
)

from rebalance_pipeline.optimization.shards import optimize_shard, solve_one
from rebalance_pipeline.policy import Policy


def solve(policy: Policy | None = None, **book) -> tuple[pl.DataFrame, pl.DataFrame]:
    policy = policy or Policy()
    return optimize_shard(problems_for(policy, **book), policy)


def row(results: pl.DataFrame, account_id: str) -> dict:
    return results.filter(pl.col("account_id") == account_id).row(0, named=True)


def sold_of_lot(trades: pl.DataFrame, lot_id: str) -> float:
    return trades.filter(pl.col("lot_id") == lot_id)["quantity"].sum()


def bought(trades: pl.DataFrame, account_id: str) -> set[str]:
    buys = trades.filter((pl.col("account_id") == account_id) & (pl.col("side") == "buy"))
    return set(buys["security_id"])


def class_weights_after(results, trades, account_id, lots, securities=SECURITIES) -> dict:
    """Asset-class weights after the trades, of value less the due withdrawal (check.py)."""
    by_id = {s["id"]: s for s in securities}
    quantity: dict[str, float] = {}
    for held in lots:
        quantity[held["security"]] = quantity.get(held["security"], 0.0) + held["quantity"]
    for trade in trades.filter(pl.col("account_id") == account_id).iter_rows(named=True):
        sign = 1 if trade["side"] == "buy" else -1
        quantity[trade["security_id"]] = (
            quantity.get(trade["security_id"], 0.0) + sign * trade["quantity"]
        )
    result = row(results, account_id)
    market = {s: q * by_id[s]["price"] for s, q in quantity.items()}
    value = sum(market.values()) + result["cash_after"] - result["required_cash"]
    weights: dict[str, float] = {}
    for s, v in market.items():
        weights[by_id[s]["asset_class"]] = weights.get(by_id[s]["asset_class"], 0.0) + v / value
    return weights


def assert_within_bands(weights: dict[str, float], tol: float = 0.005) -> None:
    for asset_class, (low, high) in BALANCED["bands"].items():
        assert low - tol <= weights.get(asset_class, 0.0) <= high + tol, (asset_class, weights)


def test_account_at_target_scores_below_the_floor_threshold():
    results, _ = solve(accounts=[account("A01", at_target_lots("A01"))])
    result = row(results, "A01")
    assert result["solve_status"] == "optimal"
    # investing 1% cash buys little risk reduction: far below the 150 → 21 bps threshold
    assert result["score_bps"] < 21.0
    assert result["realized_gain_st"] == 0 and result["realized_gain_lt"] == 0


TOBACCO = [
    *SECURITIES,
    security("SEC-TOBA", "us_equity", 50.0, "TOBA", sector="Tobacco", rating=3),
    security("SEC-TOBB", "us_equity", 95.0, "TOBB", sector="Tobacco", rating=3),
]


def test_restricted_holding_is_sold_and_none_bought():
    lots = [*at_target_lots("A02"), lot("A02-L-TOBA", "SEC-TOBA", 400, 15000.0, "2020-02-03")]
    results, trades = solve(
        accounts=[account("A02", lots)],
        securities=TOBACCO,
        restrictions=[{"account": "A02", "sector": "Tobacco"}],
    )
    assert sold_of_lot(trades, "A02-L-TOBA") == 400
    assert not bought(trades, "A02") & {"SEC-TOBA", "SEC-TOBB"}
    # the long-term gain of 400 × 50 − 15,000 = 5,000 is realized
    assert row(results, "A02")["realized_gain_lt"] >= 5000.0 - 1e-6


P03_LOTS = [
    lot("A03-L-LCAP", "SEC-LCAP", 1000, 96000.0),
    lot("A03-L-INTL", "SEC-INTL", 1600, 64000.0),
    lot("A03-L-BND2", "SEC-BND2", 1200, 96000.0),
    lot("A03-L-TMKT-ST", "SEC-TMKT", 200, 30000.0, "2026-01-15"),
    lot("A03-L-TMKT-LT", "SEC-TMKT", 920, 218500.0, "2020-05-01"),
    lot("A03-L-BOND-LOSS", "SEC-BOND", 2500, 220000.0, "2022-01-10"),
]


def test_withdrawal_is_raised_from_the_cheapest_lots():
    results, trades = solve(
        accounts=[account("A03", P03_LOTS, cash=2000.0)],
        cash_requests=[{"account": "A03", "amount": 60000.0}],
    )
    result = row(results, "A03")
    assert result["required_cash"] == 60000.0
    assert result["cash_after"] >= 60000.0
    # the short-term lot (+20,000 at 37%) is kept; the loss lot (−20,000) is sold
    assert sold_of_lot(trades, "A03-L-TMKT-ST") <= 0.05 * 200
    assert sold_of_lot(trades, "A03-L-BOND-LOSS") > 0
    # the harvested bond loss is not washed by a buy of the same group in the account
    assert "SEC-BOND" not in bought(trades, "A03")


def test_withdrawal_larger_than_the_account_is_infeasible_not_an_error():
    results, trades = solve(
        accounts=[account("A03", P03_LOTS, cash=2000.0)],
        cash_requests=[{"account": "A03", "amount": 2_000_000.0}],
    )
    result = row(results, "A03")
    assert result["solve_status"] == "infeasible"
    assert trades.is_empty()
    assert result["score_usd"] == 0.0 and result["cash_after"] == 2000.0


def test_withdrawal_only_halted_holdings_could_fund_is_infeasible():
    halted = [lot("A-L-XYZ", "SEC-XYZ", 3000, 120000.0)]
    securities = [*SECURITIES, security("SEC-XYZ", "us_equity", 30.0, "XYZ")]
    results, _ = solve(
        policy_with(halt_mode="freeze_security"),
        accounts=[account("A", halted, cash=1000.0)],
        securities=securities,
        cash_requests=[{"account": "A", "amount": 50000.0}],
        halts=["SEC-XYZ"],
    )
    assert row(results, "A")["solve_status"] == "infeasible"


P10_LOTS = [
    lot("A10-L-LCAP", "SEC-LCAP", 1000, 96000.0),
    lot("A10-L-INTL", "SEC-INTL", 1600, 64000.0),
    lot("A10-L-BOND", "SEC-BOND", 2500, 160000.0),
    lot("A10-L-BND2", "SEC-BND2", 1200, 96000.0),
    lot("A10-L-TMKT-LOSS", "SEC-TMKT", 1120, 364000.0, "2025-10-15"),
]


def test_high_tax_aversion_harvests_a_short_term_loss_into_a_substitute():
    policy = policy_with(tax_aversion="high")
    results, trades = solve(policy, accounts=[account("A10", P10_LOTS)])
    assert sold_of_lot(trades, "A10-L-TMKT-LOSS") >= 0.5 * 1120
    assert not bought(trades, "A10") & {"SEC-TMKT", "SEC-TMK2"}
    result = row(results, "A10")
    # loss of 84,000 on the lot; at least half of it realized, at the 37% short-term rate
    assert result["realized_gain_st"] <= -42000.0
    assert result["benefit_tax_loss_usd"] == pytest.approx(-0.37 * result["realized_gain_st"])
    assert result["score_bps"] > 150.0


def test_no_tax_term_in_retirement_accounts():
    """The same loss lot in an IRA is worth nothing to sell: no harvest, no tax numbers."""
    policy = policy_with(tax_aversion="high")
    ira = account("A10", P10_LOTS, registration="traditional_ira")
    results, trades = solve(policy, accounts=[ira])
    result = row(results, "A10")
    assert result["benefit_tax_loss_usd"] == 0.0 and result["cost_tax_usd"] == 0.0
    assert sold_of_lot(trades, "A10-L-TMKT-LOSS") < 0.05 * 1120


def test_roth_sells_a_large_gain_as_freely_as_a_loss():
    """Overweight equity in a Roth is trimmed whatever the lots' gains."""
    lots = [
        lot("R-L-TMKT", "SEC-TMKT", 1600, 40000.0, "2026-02-01"),  # +360,000 short-term gain
        lot("R-L-BOND", "SEC-BOND", 2500, 160000.0),
        lot("R-L-INTL", "SEC-INTL", 1600, 64000.0),
    ]
    taxable, _ = solve(accounts=[account("R", lots)])
    roth, trades = solve(accounts=[account("R", lots, registration="roth")])
    assert row(roth, "R")["cost_tax_usd"] == 0.0
    assert sold_of_lot(trades, "R-L-TMKT") > 0
    assert row(roth, "R")["turnover_usd"] > row(taxable, "R")["turnover_usd"]


def p09_book():
    taxable = account(
        "A09t",
        [
            lot("A09t-L-LCAP", "SEC-LCAP", 3333, 319968.0),
            lot("A09t-L-INTL", "SEC-INTL", 1600, 64000.0),
            lot("A09t-L-BOND", "SEC-BOND", 2500, 160000.0),
            lot("A09t-L-BND2", "SEC-BND2", 1200, 96000.0),
        ],
        household="H09",
    )
    ira_lots = [
        lot("A09i-L-LCAP", "SEC-LCAP", 1167, 112032.0),
        lot("A09i-L-INTL", "SEC-INTL", 800, 32000.0),
        lot("A09i-L-BOND", "SEC-BOND", 1750, 112000.0),
        lot("A09i-L-BND2", "SEC-BND2", 800, 64000.0),
    ]
    ira = account("A09i", ira_lots, cash=4000.0, household="H09", registration="traditional_ira")
    sale = {"account": "A09t", "date": dt.date(2026, 3, 6), "security": "SEC-TMKT", "side": "sell"}
    return {"accounts": [taxable, ira], "transactions": [sale]}, ira_lots


def test_household_loss_sale_blocks_identical_buys_in_the_ira():
    book, ira_lots = p09_book()
    results, trades = solve(**book)
    for account_id in ("A09t", "A09i"):
        assert not bought(trades, account_id) & {"SEC-TMKT", "SEC-TMK2"}
    assert "SEC-LCAP" in bought(trades, "A09i")
    assert_within_bands(class_weights_after(results, trades, "A09i", ira_lots))


def test_household_buy_blocks_taxable_loss_sales_of_the_group():
    """A buy of TOTAL_US 10 days ago: the loss lot bought on another day stays unsold,
    even under high tax aversion; the lot the buy created itself may be sold."""
    buy = {"account": "A10", "date": dt.date(2026, 3, 6), "security": "SEC-TMK2", "side": "buy"}
    policy = policy_with(tax_aversion="high")
    _, trades = solve(policy, accounts=[account("A10", P10_LOTS)], transactions=[buy])
    assert sold_of_lot(trades, "A10-L-TMKT-LOSS") == 0
    own = [*P10_LOTS[:4], lot("A10-L-TMKT-LOSS", "SEC-TMKT", 1120, 364000.0, "2026-03-06")]
    buy_tmkt = {**buy, "security": "SEC-TMKT"}
    _, trades = solve(policy, accounts=[account("A10", own)], transactions=[buy_tmkt])
    assert sold_of_lot(trades, "A10-L-TMKT-LOSS") >= 0.5 * 1120


def test_same_day_loss_sale_blocks_buys_in_later_household_accounts():
    """The taxable account harvests TOTAL_US today; the IRA, solved after it, must not
    buy TMKT or TMK2 although its model wants TMKT."""
    policy = policy_with(tax_aversion="high")
    ira = account("A10i", [lot("A10i-L-BOND", "SEC-BOND", 5000, 400000.0)], household="H10",
                  registration="traditional_ira")  # fmt: skip
    taxable = account("A10", P10_LOTS, household="H10")
    _, trades = solve(policy, accounts=[ira, taxable])
    assert sold_of_lot(trades, "A10-L-TMKT-LOSS") > 0
    assert not bought(trades, "A10i") & {"SEC-TMKT", "SEC-TMK2"}
    assert bought(trades, "A10i")  # it still invests, in other securities


XYZ = [*SECURITIES, security("SEC-XYZ", "us_equity", 30.0, "XYZ", sector="Technology", rating=3)]


def halted_lots(prefix: str) -> list[dict]:
    return [
        lot(f"{prefix}-L-TMKT", "SEC-TMKT", 768, 153600.0),
        lot(f"{prefix}-L-LCAP", "SEC-LCAP", 750, 72000.0),
        lot(f"{prefix}-L-INTL", "SEC-INTL", 1200, 48000.0),
        lot(f"{prefix}-L-BOND", "SEC-BOND", 1350, 86400.0),
        lot(f"{prefix}-L-BND2", "SEC-BND2", 600, 48000.0),
        lot(f"{prefix}-L-XYZ", "SEC-XYZ", 3000, 120000.0, "2023-02-01"),
    ]


def test_freeze_mode_trades_around_the_halted_security_within_bands():
    policy = policy_with(halt_mode="freeze_security")
    lots = halted_lots("A08")
    results, trades = solve(
        policy, accounts=[account("A08", lots, cash=6000.0)], securities=XYZ, halts=["SEC-XYZ"]
    )
    assert "SEC-XYZ" not in set(trades["security_id"])
    assert not row(results, "A08")["touches_halted"]
    assert row(results, "A08")["trade_count"] > 0
    assert_within_bands(class_weights_after(results, trades, "A08", lots, XYZ))


def test_skip_mode_solves_as_if_nothing_were_halted_and_flags_the_account():
    lots = halted_lots("A07a")
    results, trades = solve(
        policy_with(halt_mode="skip_account"),
        accounts=[account("A07a", lots, cash=6000.0)],
        securities=XYZ,
        halts=["SEC-XYZ"],
    )
    assert "SEC-XYZ" in set(trades["security_id"])  # the off-model holding is sold
    assert row(results, "A07a")["touches_halted"]


def test_band_breach_is_corrected():
    lots = [
        lot("A12-L-TMKT", "SEC-TMKT", 1080, 216000.0),
        lot("A12-L-LCAP", "SEC-LCAP", 850, 81600.0),
        lot("A12-L-INTL", "SEC-INTL", 1200, 48000.0),
        lot("A12-L-BOND", "SEC-BOND", 1350, 86400.0),
        lot("A12-L-BND2", "SEC-BND2", 600, 48000.0),
    ]
    results, trades = solve(accounts=[account("A12", lots, cash=6000.0)])
    assert_within_bands(class_weights_after(results, trades, "A12", lots))


def test_round_lots_buy_whole_lots_and_sell_whole_lots_unless_closing():
    securities = [{**s, "round_lot": 100} for s in XYZ]
    lots = halted_lots("A")
    _, trades = solve(
        policy_with(round_lots=True), accounts=[account("A", lots, cash=40000.0)],
        securities=securities,
    )  # fmt: skip
    assert not trades.is_empty()
    net = trades.group_by("security_id", "side").agg(pl.col("quantity").sum())
    for security_id, side, quantity in net.iter_rows():
        closes = side == "sell" and security_id == "SEC-XYZ" and quantity == 3000
        assert closes or quantity % 100 == 0, (security_id, side, quantity)


def test_min_trade_size_drops_small_trades():
    policy = policy_with(min_trade_usd=2000.0)
    _, trades = solve(policy, accounts=[account("A01", at_target_lots("A01"))])
    assert (trades["amount"] >= 2000.0).all()


def test_solve_one_reproduces_the_shard_result_with_same_day_household_blocks():
    """The IRA alone would buy TMKT; re-solved with its household it is blocked as in
    the shard, and the result says why."""
    policy = policy_with(tax_aversion="high")
    ira = account("A10i", [lot("A10i-L-BOND", "SEC-BOND", 5000, 400000.0)], household="H10",
                  registration="traditional_ira")  # fmt: skip
    problems = problems_for(policy, accounts=[ira, account("A10", P10_LOTS, household="H10")])
    results, trades = optimize_shard(problems, policy)
    by_id = {p.account_id: p for p in problems}
    again, again_trades = solve_one(by_id["A10i"], policy, household=problems)
    shard_row = results.filter(pl.col("account_id") == "A10i")
    assert again.drop("solve_seconds").equals(shard_row.drop("solve_seconds"))
    assert again_trades.equals(trades.filter(pl.col("account_id") == "A10i"))
    assert "no buys of TOTAL_US (household loss sale today)" in again["status_detail"][0]
    _, alone = solve_one(by_id["A10i"], policy)
    assert "SEC-TMKT" in bought(alone, "A10i")


def test_a_tiny_restricted_lot_is_sold_too():
    """0.1 share ($5) of a restricted security is below the noise floor ($8 here) but
    is still sold in full."""
    lots = [*at_target_lots("A02"), lot("A02-L-TOBA", "SEC-TOBA", 0.1, 4.0)]
    _, trades = solve(
        accounts=[account("A02", lots)],
        securities=TOBACCO,
        restrictions=[{"account": "A02", "security": "SEC-TOBA"}],
    )
    assert sold_of_lot(trades, "A02-L-TOBA") == pytest.approx(0.1)


def test_min_trade_size_never_leaves_a_withdrawal_short():
    """Raising $1,500 needs sells below the $2,000 minimum: they are kept all the same."""
    policy = policy_with(min_trade_usd=2000.0)
    results, trades = solve(
        policy,
        accounts=[account("A01", at_target_lots("A01"), cash=0.0)],
        cash_requests=[{"account": "A01", "amount": 1500.0}],
    )
    result = row(results, "A01")
    assert result["cash_after"] >= 1500.0
    assert trades.filter(pl.col("side") == "sell").height > 0


# The score of proposed trades, worked out by hand with the default policy and risk model.
# Annual (co)variances of the securities below:
#   a us_equity security:              0.16² + 0.02² = 0.0260  (class vol, specific vol)
#   a us_bonds security:               0.05² + 0.02² = 0.0029
#   two us_equity securities:          0.95 × 0.16² = 0.02432  (within-class correlation)
#   a us_equity and a us_bonds one:    0.1 × 0.16 × 0.05 = 0.0008
# The risk benefit is 50 (active variance price) × value × (variance before − after) of
# the active weights; transaction costs are 5 bps of the dollars traded. In each account
# the held security is restricted, so all of it is sold, and the buy is whole round lots,
# so the proposed trades are known exactly.
EQ_BD = [
    security("SEC-EQ", "us_equity", 100.0, "EQ"),
    security("SEC-BD", "us_bonds", 50.0, "BD", sector="Fixed Income", round_lot=1000),
]
EQ_BD_MODEL = {"M-EB": {"targets": {"SEC-EQ": 0.5, "SEC-BD": 0.5}, "bands": {}}}


def score_columns(result: dict) -> dict[str, float]:
    columns = ["benefit_risk_usd", "cost_transaction_usd", "cost_tax_usd"]
    columns += ["benefit_tax_loss_usd", "score_usd", "score_bps"]
    return {column: result[column] for column in columns}


def trade_rows(trades: pl.DataFrame) -> list[tuple]:
    return trades.select("side", "security_id", "lot_id", "quantity").sort("lot_id").rows()


@pytest.mark.parametrize(
    ("tax_aversion", "score_usd"), [("low", 400.0), ("medium", -750.0), ("high", -3050.0)]
)
def test_score_of_selling_a_restricted_equity_with_a_gain_and_a_loss_into_bonds(
    tax_aversion, score_usd
):
    """1,000 EQ at 100 (value 100,000, no cash): 600 shares held long-term for a 30,000
    basis, 400 short-term for 50,000. All are sold; the optimizer would buy about 1,272
    BD (the covariance favours bonds over the missing equity), one round lot of 1,000."""
    lots = [
        lot("A-EQ-LT", "SEC-EQ", 600, 30000.0, "2020-01-02"),
        lot("A-EQ-ST", "SEC-EQ", 400, 50000.0, "2025-12-01"),
    ]
    results, trades = solve(
        policy_with(tax_aversion=tax_aversion, round_lots=True),
        accounts=[account("A", lots, cash=0.0, model="M-EB")],
        securities=EQ_BD,
        models=EQ_BD_MODEL,
        restrictions=[{"account": "A", "security": "SEC-EQ"}],
    )
    assert trade_rows(trades) == [
        ("buy", "SEC-BD", None, 1000.0),
        ("sell", "SEC-EQ", "A-EQ-LT", 600.0),
        ("sell", "SEC-EQ", "A-EQ-ST", 400.0),
    ]
    # active weights (EQ, BD): before (+0.5, −0.5), after (−0.5, 0.0)
    # variance before 0.25 × 0.0260 + 0.25 × 0.0029 − 2 × 0.25 × 0.0008 = 0.006825
    # variance after  0.25 × 0.0260 = 0.0065
    # risk benefit    50 × 100,000 × (0.006825 − 0.0065) = 1,625
    # costs           0.0005 × (100,000 sold + 50,000 bought) = 75
    # tax             20% × (60,000 − 30,000) = 6,000 on the long-term gain
    # harvested loss  37% × (50,000 − 40,000) = 3,700 on the short-term loss
    # score           1,625 − 75 + w × (3,700 − 6,000), w = 0.5 / 1 / 2 by tax aversion
    assert score_columns(row(results, "A")) == pytest.approx(
        {
            "benefit_risk_usd": 1625.0,
            "cost_transaction_usd": 75.0,
            "cost_tax_usd": 6000.0,
            "benefit_tax_loss_usd": 3700.0,
            "score_usd": score_usd,
            "score_bps": score_usd / 100_000 * 1e4,
        }
    )


def test_score_of_replacing_a_restricted_equity_with_half_as_much_of_a_similar_one():
    """1,000 EQ at 100 (no gain, no cash) against a model of 100% EQ2, which is bought in
    round lots of 500: the cash after costs pays for 999 shares, so 500 are bought."""
    securities = [
        security("SEC-EQ", "us_equity", 100.0, "EQ"),
        security("SEC-EQ2", "us_equity", 100.0, "EQ2", round_lot=500),
    ]
    results, trades = solve(
        policy_with(round_lots=True),
        accounts=[account("A", [lot("A-EQ", "SEC-EQ", 1000, 100000.0)], cash=0.0, model="M")],
        securities=securities,
        models={"M": {"targets": {"SEC-EQ2": 1.0}, "bands": {}}},
        restrictions=[{"account": "A", "security": "SEC-EQ"}],
    )
    assert trade_rows(trades) == [
        ("buy", "SEC-EQ2", None, 500.0),
        ("sell", "SEC-EQ", "A-EQ", 1000.0),
    ]
    # active weights (EQ, EQ2): before (+1, −1), after (0, −0.5)
    # variance before 0.0260 + 0.0260 − 2 × 0.02432 = 0.00336
    # variance after  0.25 × 0.0260 = 0.0065
    # risk benefit    50 × 100,000 × (0.00336 − 0.0065) = −15,700
    # costs           0.0005 × (100,000 + 50,000) = 75; no gain, no tax
    assert score_columns(row(results, "A")) == pytest.approx(
        {
            "benefit_risk_usd": -15700.0,
            "cost_transaction_usd": 75.0,
            "cost_tax_usd": 0.0,
            "benefit_tax_loss_usd": 0.0,
            "score_usd": -15775.0,
            "score_bps": -1577.5,
        }
    )
