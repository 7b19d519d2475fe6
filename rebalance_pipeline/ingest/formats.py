"""The two custodian file formats: names, layouts and value notations.

The generator writes files with these layouts and the parsers read them, so both sides
share this one description. Canonical column names are those of ``tables.py``.

``alder`` (Schwab-style): ``<kind>_YYYYMMDD.csv``, comma-separated with a header row of
the canonical column names, ISO dates, plain decimals with a leading ``-``.

``birch`` (Pershing-style): ``<KIND>.YYMMDD.dat``, pipe-delimited records: a header
``H|BIRCH|<KIND>|MM/DD/YYYY|<firm>``, detail records ``D|...`` in the positional layout
below, and a trailer ``T|<detail count>|<checksum>``. Dates are MM/DD/YYYY, amounts carry
thousands separators, quantities are unsigned with a one-character sign column before
them, and symbols may use ``/`` for a share-class suffix (``BRK/B`` for ``BRK.B``).
"""

from __future__ import annotations

import datetime as dt
import hashlib

CUSTODIANS = ("alder", "birch")
KINDS = ("positions", "lots", "transactions", "cash", "prices", "corporate_actions")
BIRCH_KIND_CODES = {
    "positions": "POSITIONS",
    "lots": "LOTS",
    "transactions": "TRANSACTIONS",
    "cash": "CASH",
    "prices": "PRICES",
    "corporate_actions": "CORPACT",
}
FIRM_NAME = "ROBO WEALTH PARTNERS"

# Canonical columns as they appear in an alder file, in file order.
ALDER_COLUMNS: dict[str, tuple[str, ...]] = {
    "positions": ("account_id", "symbol", "quantity"),
    "lots": ("account_id", "lot_id", "symbol", "quantity", "cost_basis", "acquired_date"),
    "transactions": (
        "transaction_id",
        "account_id",
        "trade_date",
        "type",
        "symbol",
        "quantity",
        "price",
        "amount",
        "realized_gain",
        "lot_id",
    ),
    "cash": ("account_id", "cash"),
    "prices": ("symbol", "price_date", "close"),
    "corporate_actions": ("symbol", "action", "effective_date", "ratio", "new_symbol"),
}

# Birch detail fields after the leading ``D``, in file order.  A ``*_SIGN`` field holds
# the sign of the unsigned quantity that follows it.
BIRCH_FIELDS: dict[str, tuple[str, ...]] = {
    "positions": ("ACCT_NO", "SYMBOL", "QTY_SIGN", "QTY"),
    "lots": ("ACCT_NO", "SYMBOL", "LOT_NO", "ACQ_DATE", "QTY_SIGN", "QTY", "COST_AMT"),
    "transactions": (
        "ACCT_NO",
        "TRADE_DATE",
        "TXN_NO",
        "TXN_CODE",
        "SYMBOL",
        "QTY_SIGN",
        "QTY",
        "PRICE",
        "NET_AMT",
        "GAIN_AMT",
        "LOT_NO",
    ),
    "cash": ("ACCT_NO", "CASH_AMT"),
    "prices": ("SYMBOL", "PRICE_DATE", "CLOSE_PRICE"),
    "corporate_actions": ("SYMBOL", "ACTION_CODE", "EFF_DATE", "RATIO", "NEW_SYMBOL"),
}
BIRCH_TO_CANONICAL = {
    "ACCT_NO": "account_id",
    "SYMBOL": "symbol",
    "QTY": "quantity",
    "LOT_NO": "lot_id",
    "ACQ_DATE": "acquired_date",
    "COST_AMT": "cost_basis",
    "TRADE_DATE": "trade_date",
    "TXN_NO": "transaction_id",
    "TXN_CODE": "type",
    "PRICE": "price",
    "NET_AMT": "amount",
    "GAIN_AMT": "realized_gain",
    "CASH_AMT": "cash",
    "PRICE_DATE": "price_date",
    "CLOSE_PRICE": "close",
    "ACTION_CODE": "action",
    "EFF_DATE": "effective_date",
    "RATIO": "ratio",
    "NEW_SYMBOL": "new_symbol",
}
BIRCH_TRANSACTION_CODES = {
    "buy": "BUY",
    "sell": "SEL",
    "deposit": "DEP",
    "withdrawal": "WDL",
    "dividend": "DIV",
    "fee": "FEE",
}
BIRCH_ACTION_CODES = {"split": "SPLIT", "symbol_change": "SYMCHG"}

# Value kinds of the canonical columns; everything else is text.
NUMBER_COLUMNS = frozenset(
    {"quantity", "cost_basis", "price", "amount", "realized_gain", "cash", "close", "ratio"}
)
DATE_COLUMNS = frozenset({"acquired_date", "trade_date", "price_date", "effective_date"})
# Columns read as quantities in birch: unsigned, with a sign column.
SIGNED_QUANTITY_COLUMNS = frozenset({"quantity"})


def file_name(custodian: str, kind: str, file_date: dt.date) -> str:
    """The name a custodian gives the file of ``kind`` for ``file_date``."""
    if custodian == "alder":
        return f"{kind}_{file_date:%Y%m%d}.csv"
    if custodian == "birch":
        return f"{BIRCH_KIND_CODES[kind]}.{file_date:%y%m%d}.dat"
    raise ValueError(f"unknown custodian {custodian!r}")


def drop_path(custodian: str, kind: str, file_date: dt.date) -> str:
    """Path of a drop file relative to the book root."""
    return f"drops/{file_date.isoformat()}/{custodian}/{file_name(custodian, kind, file_date)}"


def trailer_checksum(detail_block: bytes | memoryview) -> str:
    """Checksum of a birch trailer: SHA-256 hex (16 chars) of the detail lines joined by \\n."""
    return hashlib.sha256(detail_block).hexdigest()[:16]
