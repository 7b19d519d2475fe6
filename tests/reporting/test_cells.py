"""Numbers in files: prices to 4 places, amounts from the written price, exact quantities."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from rebalance_pipeline.reporting.cells import (
    amount_cell,
    dollars,
    price_cell,
    quantity_cell,
    quantity_from_text,
)


@pytest.mark.parametrize(
    ("price", "text"),
    [(1.005, "1.0050"), (0.0345, "0.0345"), (101.234, "101.2340"), (100.0, "100.0000"),
     (2.00005, "2.0001"), (2.00004999, "2.0000"), (-0.0, "0.0000"), (-0.00004, "0.0000"),
     (None, "")],
)  # fmt: skip
def test_prices_are_written_to_four_places_half_up(price, text):
    assert price_cell(price) == text


@pytest.mark.parametrize(
    ("quantity", "price", "text"),
    [
        (7.0, 1.005, "7.04"),  # 7 x 1.0050 = 7.035, half up
        (1000.0, 0.0345, "34.50"),
        (1000.0, 1.23456, "1234.60"),  # 1000 x 1.2346 as written, not 1234.56
        (3.0, 101.234, "303.70"),
        (0.0001, 100.0, "0.01"),
        (0.1 + 0.2, 10.005, "3.00"),  # 0.3 x 10.0050 = 3.0015
        (0.0, 12.5, "0.00"),
        (-0.0, 12.5, "0.00"),
        (1.0, -0.004, "0.00"),  # never -0.00
        (None, 12.5, ""),
    ],
)
def test_amount_is_the_quantity_times_the_written_price_half_up_to_cents(quantity, price, text):
    assert amount_cell(quantity, price) == text


@pytest.mark.parametrize(
    ("quantity", "text"),
    [(3.0, "3"), (12.5, "12.5"), (0.1 + 0.2, "0.3"), (0.000001, "0.000001"),
     (1.5e16, "15000000000000000"), (2500000.1 + 0.2, "2500000.3"), (-0.0, "0"), (None, "")],
)  # fmt: skip
def test_quantities_are_written_exactly_without_exponent(quantity, text):
    assert quantity_cell(quantity) == text


@pytest.mark.parametrize("quantity", [1 / 3, 1e-7, 12.5000004, math.nan, math.inf])
def test_a_quantity_off_the_six_place_precision_is_an_error(quantity):
    with pytest.raises(ValueError, match="quantity"):
        quantity_cell(quantity)


@pytest.mark.parametrize(
    ("text", "written"),
    [("0.3", "0.3"), ("0.300", "0.3"), ("12", "12"), ("1e3", "1000"), ("0.000001", "0.000001")],
)
def test_quantities_read_from_text_are_written_back_unchanged(text, written):
    assert quantity_from_text(text) == Decimal(written)
    assert quantity_cell(float(quantity_from_text(text))) == written


@pytest.mark.parametrize(
    ("text", "message"),
    [("ten", "not a number"), ("inf", "finite"), ("NaN", "finite"),
     ("1.0000001", "more than 6 decimal places")],
)  # fmt: skip
def test_quantity_text_that_is_not_a_quantity_is_an_error(text, message):
    with pytest.raises(ValueError, match=message):
        quantity_from_text(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [(1234.5, "$1,234.50"), (-5.0, "-$5.00"), (-0.001, "$0.00"), (2.675, "$2.68"),
     (None, "n/a"), (math.nan, "n/a")],
)  # fmt: skip
def test_money_on_screen_is_in_cents_half_up_without_negative_zero(value, text):
    assert dollars(value) == text
