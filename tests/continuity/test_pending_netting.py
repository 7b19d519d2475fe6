"""Netting pending orders into the book: the delta of each holding looked up only for the
accounts with one gives what a left join of the whole table gives."""

from __future__ import annotations

import polars as pl
import pytest

from rebalance_pipeline.continuity.pending import _with_deltas

KEY = ["account_id", "lot_id"]
LOTS = pl.DataFrame(
    {
        "account_id": ["A1", "A1", "A2", "A2", None, "A3", "A1"],
        "lot_id": ["L1", "L2", "L1", None, "L1", "L9", "L1"],  # A1/L1 repeated
        "quantity": [10.0, 5.0, 3.0, 1.0, 2.0, 7.0, 4.0],
    }
)
DELTAS = {
    "some lots": pl.DataFrame(
        {"account_id": ["A1", "A2"], "lot_id": ["L1", "L1"], "delta": [-4.0, -3.0]}
    ),
    "null key part": pl.DataFrame(
        {"account_id": ["A2", None], "lot_id": [None, "L1"], "delta": [-1.0, -2.0]}
    ),
    "no row of the table": pl.DataFrame({"account_id": ["Z9"], "lot_id": ["L1"], "delta": [1.0]}),
    "none": pl.DataFrame(
        schema={"account_id": pl.String, "lot_id": pl.String, "delta": pl.Float64}
    ),
}


@pytest.mark.parametrize("deltas", DELTAS.values(), ids=DELTAS)
@pytest.mark.parametrize("frame", [LOTS, LOTS.clear(), LOTS.head(1)], ids=["lots", "empty", "one"])
def test_deltas_are_those_a_left_join_gives(frame: pl.DataFrame, deltas: pl.DataFrame) -> None:
    joined = frame.join(deltas, on=KEY, how="left", maintain_order="left")
    assert _with_deltas(frame, deltas, KEY).equals(joined)
