"""CSV cells that are safe to open in a spreadsheet, written the same way every time."""

from __future__ import annotations

import math
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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


def plain_number(value: float | None) -> str:
    """A number without exponent and without rounding: whole numbers as integers."""
    if value is None or math.isnan(value):
        return ""
    if math.isinf(value):
        raise ValueError(f"cannot write an infinite number: {value}")
    if float(value).is_integer():
        return str(int(value))
    return format(Decimal(repr(float(value))), "f")


def cents(value: float | None) -> str:
    """Money estimate to cents."""
    if value is None or math.isnan(value):
        return ""
    return f"{value:.2f}"
