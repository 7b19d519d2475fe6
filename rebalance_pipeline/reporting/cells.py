"""CSV cells that are safe to open in a spreadsheet, written the same way every time.

The one place for numbers in files (DESIGN.md, Trust rules): money is ``Decimal`` with
explicit rounding. A price is written to ``PRICE_PLACES`` places, half up; an amount is the
quantity times that written price, half up to cents; a quantity is written exactly at
``QUANTITY_PLACES`` places at most. Zero is never written with a minus sign.

A float is taken as the shortest decimal that reads back as the same float (``repr``),
so a price of ``1.005`` is 1.005 and rounds half up to ``1.0050``, not the binary
1.00499999... below it.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUANTITY_PLACES = 6  # fractional fund shares: millionths of a share
PRICE_PLACES = 4
QUANTITY_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)
PRICE_STEP = Decimal(1).scaleb(-PRICE_PLACES)
CENT = Decimal("0.01")
# A float quantity may carry arithmetic noise (0.1 + 0.2); anything further from a
# multiple of QUANTITY_STEP than this (in shares, or a few float steps of a large
# quantity) is a real digit that would be lost, so it is an error.
QUANTITY_TOLERANCE = 1e-9
QUANTITY_RELATIVE_TOLERANCE = 1e-15


def safe_text(value: str | None) -> str:
    """Text from data as a cell: a leading formula character gets a single quote first."""
    if value is None:
        return ""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def unescape_text(cell: str) -> str:
    """The text ``safe_text`` was given (a quote it added is removed)."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def exact_quantity(value: float) -> Decimal:
    """A float quantity as a Decimal of at most ``QUANTITY_PLACES`` places.

    Raises ``ValueError`` for a quantity that is not such a number up to float noise
    (1/3 of a share, 1e-7 of a share): it is never rounded away silently.
    """
    number = _decimal(value, "quantity")
    snapped = number.quantize(QUANTITY_STEP, ROUND_HALF_UP)
    if not math.isclose(
        float(snapped),
        float(value),
        rel_tol=QUANTITY_RELATIVE_TOLERANCE,
        abs_tol=QUANTITY_TOLERANCE,
    ):
        raise ValueError(
            f"quantity {float(value)!r} has more than {QUANTITY_PLACES} decimal places"
        )
    return _unsigned(snapped)


def quantity_from_text(text: str) -> Decimal:
    """A quantity typed as text (a reviewer's ``0.3`` stays 0.3); raises ``ValueError``
    for text that is not a finite number of at most ``QUANTITY_PLACES`` places."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not number.is_finite():
        raise ValueError(f"must be a finite number: {text!r}")
    if number.normalize().as_tuple().exponent < -QUANTITY_PLACES:
        raise ValueError(f"{text!r} has more than {QUANTITY_PLACES} decimal places")
    return _unsigned(number)


def written_price(value: float) -> Decimal:
    """The price as files write it: ``PRICE_PLACES`` places, half up."""
    return _unsigned(_decimal(value, "price").quantize(PRICE_STEP, ROUND_HALF_UP))


def trade_amount(quantity: float, price: float) -> Decimal:
    """Quantity times the written price, half up to cents."""
    amount = exact_quantity(quantity) * written_price(price)
    return _unsigned(amount.quantize(CENT, ROUND_HALF_UP))


def quantity_cell(value: float | None) -> str:
    """A quantity in full without exponent or trailing zeros (``3``, ``12.5``, ``0.3``)."""
    return "" if value is None else format(exact_quantity(value).normalize(), "f")


def price_cell(value: float | None) -> str:
    """A price with ``PRICE_PLACES`` places (``1.0050``)."""
    return "" if value is None else format(written_price(value), "f")


def amount_cell(quantity: float | None, price: float | None) -> str:
    """The amount of a trade to cents (``7.04`` for 7 at 1.005)."""
    if quantity is None or price is None:
        return ""
    return format(trade_amount(quantity, price), "f")


def dollars(value: float | None) -> str:
    """Money for people reading a screen: ``$1,234.50``, ``-$5.00``, ``n/a``."""
    if value is None or not math.isfinite(value):
        return "n/a"
    cents = _unsigned(Decimal(repr(float(value))).quantize(CENT, ROUND_HALF_UP))
    return f"{'-' if cents < 0 else ''}${abs(cents):,}"


def _decimal(value: float, what: str) -> Decimal:
    if not math.isfinite(value):
        raise ValueError(f"{what} {value!r} is not a finite number")
    return Decimal(repr(float(value)))


def _unsigned(number: Decimal) -> Decimal:
    """``-0`` (of any scale) as ``0``, every other number unchanged."""
    return number.copy_abs() if number.is_zero() else number
