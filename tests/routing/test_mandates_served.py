"""MANDATE means the proposal serves a due mandate; a mandate it cannot serve goes to a
person; trades that serve no mandate must clear the threshold like any account's."""

from __future__ import annotations

import polars as pl
from stage_books import SECURITIES, account, at_target_lots, book, decision, lot, run, security

from rebalance_pipeline.routing import reasons as r

XYZ = security("SEC-XYZ", "us_equity", 30.0, "XYZ", sector="Technology", rating=3)


def test_a_restricted_holding_frozen_by_a_halt_is_manual_not_mandate():
    """The restricted XYZ is halted under freeze_security: the proposal can only put cash
    to work, which serves no mandate; a person must handle the restriction."""
    lots = [*at_target_lots("A"), lot("A-L-XYZ", "SEC-XYZ", 100, 2500.0)]
    outputs = run(
        book(
            [account("A", lots, cash=20_000.0)],
            securities=[*SECURITIES, XYZ],
            policy={"halt_mode": "freeze_security"},
            restrictions=[{"account": "A", "security": "SEC-XYZ"}],
            halts=[{"security": "SEC-XYZ", "start": "2026-03-13", "end": "2026-03-31"}],
        )
    )
    routed = decision(outputs, "A")
    assert routed["route"] == "MANUAL"
    assert r.MANDATE_UNSERVED in routed["reasons"]
    assert "SEC-XYZ" in routed["rule"]
    assert outputs.routing.released_trades.is_empty()


def test_a_withdrawal_the_cash_already_covers_does_not_release_other_trades():
    """$20,000 of cash covers the $10,000 withdrawal: what the proposal trades besides is
    judged by its score, which is under the threshold."""
    outputs = run(
        book(
            [account("A", at_target_lots("A"), cash=20_000.0)],
            cash_requests=[
                {"account": "A", "amount": 10_000.0, "priority": "high", "due": "2026-03-16"}
            ],
        )
    )
    routed = decision(outputs, "A")
    assert routed["route"] == "NO_TRADE"
    assert routed["reasons"][0] == r.SCORE_BELOW_THRESHOLD
    assert "cash_request_high" in routed["reasons"]  # still raised: the cash is there
    assert outputs.routing.released_trades.is_empty()


def test_a_band_breach_no_trade_can_move_is_manual():
    """Bonds are below their band and every bond is restricted for the account: nothing
    can move the class toward its band."""
    lots = [
        lot("A-L-TMKT", "SEC-TMKT", 1800, 360000.0),
        lot("A-L-LCAP", "SEC-LCAP", 1500, 144000.0),
        lot("A-L-INTL", "SEC-INTL", 1600, 64000.0),
    ]
    outputs = run(
        book(
            [account("A", lots)],
            restrictions=[{"account": "A", "sector": "Fixed Income"}],
        )
    )
    routed = decision(outputs, "A")
    assert routed["route"] == "MANUAL"
    assert r.MANDATE_UNSERVED in routed["reasons"]
    assert "us_bonds" in routed["rule"]


def test_a_band_breach_the_trades_correct_is_mandate():
    lots = [
        lot("A-L-TMKT", "SEC-TMKT", 1080, 216000.0),
        lot("A-L-LCAP", "SEC-LCAP", 850, 81600.0),
        lot("A-L-INTL", "SEC-INTL", 1200, 48000.0),
        lot("A-L-BOND", "SEC-BOND", 1350, 86400.0),
        lot("A-L-BND2", "SEC-BND2", 600, 48000.0),
    ]
    outputs = run(book([account("A", lots, cash=6000.0)]))
    routed = decision(outputs, "A")
    assert routed["route"] == "MANDATE"
    assert routed["reasons"] == ["band_breach_normal"]
    sells = outputs.proposed_trades.filter(pl.col("side") == "sell")
    assert set(sells["asset_class"]) == {"us_equity"}
