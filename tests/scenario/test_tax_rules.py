"""Known-answer books of the long-term deferral and the rebalance types, run through the
daily stages and judged by their own ``expect:`` blocks; the deferral book also run with
the deferral off, where the lot it keeps is sold."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rebalance_pipeline.scenario import expectation_mismatches, load_scenario, run_scenario

HERE = Path(__file__).parent
BOOKS = ["long_term_deferral.yaml", "rebalance_types.yaml"]


@pytest.mark.parametrize("book", BOOKS)
def test_the_book_meets_its_expectations(book: str):
    path = HERE / book
    assert expectation_mismatches(load_scenario(path), run_scenario(path)) == []


@pytest.mark.parametrize("days", [None, 0, 9])
def test_without_a_window_reaching_the_lot_it_is_sold(tmp_path: Path, days: int | None):
    """No deferral, a deferral of 0 days or one of 9 days (the lot turns long-term in 10)."""
    data = yaml.safe_load((HERE / "long_term_deferral.yaml").read_text())
    data["policy"] = {} if days is None else {"long_term_deferral_days": days}
    path = tmp_path / "no_deferral.yaml"
    path.write_text(yaml.safe_dump(data))
    sold = {
        trade["lot_id"]
        for trade in run_scenario(path)["accounts"]["AD"]["trades"]
        if trade["side"] == "sell"
    }
    assert "AD-L-TMKT" in sold
