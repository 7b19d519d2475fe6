"""``workflow.propose_untriggered: false``: an account that the policy's trigger cannot
trade today and that has no mandate gets no proposal (nothing it could propose would be
traded), only its risk; every other account is optimized as always."""

from __future__ import annotations

import datetime as dt

import polars as pl
from stage_books import AS_OF, account, at_target_lots, book, lot

from rebalance_pipeline.policy import Policy
from rebalance_pipeline.scenario.adapter import scenario_book
from rebalance_pipeline.workflow import DateOutputs, run_stages

RECENT = AS_OF - dt.timedelta(days=10)
ACCOUNTS = [
    # out of balance (cash to invest) and traded 10 days ago: a proposal, but no calendar day
    account("IDLE", at_target_lots("IDLE", 0.8), cash=60_000.0, last_trade=RECENT),
    # as out of balance, with a withdrawal due: a mandate, optimized whatever the trigger
    account("WITHDRAW", at_target_lots("WITHDRAW", 0.8), cash=60_000.0, last_trade=RECENT),
    # never traded: its calendar day is due
    account("DUE", at_target_lots("DUE", 0.8), cash=60_000.0),
]
WITHDRAWAL = {"account": "WITHDRAW", "amount": 70_000.0, "priority": "high", "due": AS_OF}


def run(trigger: str, propose_untriggered: bool) -> DateOutputs:
    workflow = {"trigger": trigger, "calendar_days": 30, "propose_untriggered": propose_untriggered}
    policy = Policy.model_validate({"workflow": workflow})
    return run_stages(scenario_book(book(ACCOUNTS, cash_requests=[WITHDRAWAL])), policy)


def rows(outputs: DateOutputs, frame: str) -> dict[str, dict]:
    table = getattr(outputs, frame) if frame != "decisions" else outputs.routing.decisions
    return {row["account_id"]: row for row in table.iter_rows(named=True)}


def test_a_calendar_account_off_its_day_without_a_mandate_is_not_optimized():
    full, skipped = run("calendar", True), run("calendar", False)
    full_results = rows(full, "optimization_results")
    results = rows(skipped, "optimization_results")
    assert full_results["IDLE"]["turnover_usd"] > 0  # there was something to propose
    assert results["IDLE"]["turnover_usd"] == 0 and results["IDLE"]["solve_seconds"] == 0
    assert "not proposed" in results["IDLE"]["status_detail"]
    assert results["IDLE"]["tracking_error_before"] == full_results["IDLE"]["tracking_error_before"]
    for account_id in ("WITHDRAW", "DUE"):
        assert results[account_id] | {"solve_seconds": 0} == full_results[account_id] | {
            "solve_seconds": 0
        }
    # the same routes, reasons and rules; only the score of the proposal not made is gone
    assert skipped.routing.decisions.drop("score_bps").equals(
        full.routing.decisions.drop("score_bps")
    )
    assert skipped.routing.released_trades.equals(full.routing.released_trades)
    assert set(skipped.proposed_trades["account_id"]) == {"WITHDRAW", "DUE"}


def test_under_trigger_bands_only_accounts_with_a_mandate_are_optimized():
    skipped = run("bands", False)
    assert set(skipped.proposed_trades["account_id"]) == {"WITHDRAW"}
    decisions = rows(skipped, "decisions")
    assert decisions["WITHDRAW"]["route"] == "MANDATE"
    assert {decisions[a]["route"] for a in ("IDLE", "DUE")} == {"NO_TRADE"}


def test_the_cost_benefit_trigger_optimizes_every_account_either_way():
    full, skipped = run("cost_benefit", True), run("cost_benefit", False)
    assert skipped.proposed_trades.equals(full.proposed_trades)
    assert skipped.optimization_results.drop("solve_seconds").equals(
        full.optimization_results.drop("solve_seconds")
    )
    assert pl.Series(full.proposed_trades["account_id"]).n_unique() == 3


def test_an_account_not_proposed_sets_no_household_wash_sale_block():
    # A-IDLE (solved first) holds the total-market fund at a large loss: its proposal
    # would harvest it, and that loss sale would block the household's buys of the group.
    # Its calendar day is not due, so that sale never happens: B-DUE may buy the group.
    loss_lots = [
        lot("A-IDLE-L-TMKT", "SEC-TMKT", 1120, 420_000.0, acquired="2025-12-01"),
        *at_target_lots("A-IDLE")[1:],
    ]
    household = [
        account("A-IDLE", loss_lots, household="H1", last_trade=RECENT),
        account("B-DUE", at_target_lots("B-DUE", 0.5), cash=300_000.0, household="H1"),
    ]
    scenario = book(household)

    def due_account(propose_untriggered: bool) -> tuple[str, set[str]]:
        workflow = {"trigger": "calendar", "calendar_days": 30}
        policy = Policy.model_validate(
            {"workflow": workflow | {"propose_untriggered": propose_untriggered}}
        )
        outputs = run_stages(scenario_book(scenario), policy)
        result = rows(outputs, "optimization_results")["B-DUE"]
        buys = outputs.proposed_trades.filter(
            (pl.col("account_id") == "B-DUE") & (pl.col("side") == "buy")
        )
        return result["status_detail"] or "", set(buys["security_id"])

    blocked_notes, _ = due_account(True)
    assert "no buys of TOTAL_US (household loss sale today)" in blocked_notes
    notes, bought = due_account(False)
    assert "household loss sale" not in notes
    assert bought & {"SEC-TMKT", "SEC-TMK2"}
