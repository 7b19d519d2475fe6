"""The canonical frames of one custodian-day -> that day's Interactive Brokers Flex Query
XML file (layout and mapping: ``ingest/custodians/ibkr_flex.py``), and the faults a real
Flex delivery has.

One file carries every kind: a ``FlexStatement`` per account (sorted) holding its open
positions (each SUMMARY followed by its LOTs, priced with the day's close), its trades (a
sell followed by the CLOSED_LOT it closed), its cash transactions, the corporate actions of
the securities it holds and its cash report. A corporate action no account holds goes to
the first statement. Prices of securities no account holds are not written (a Flex
statement prices positions only). The same frames always give the same bytes.

The faults, the check of the finding that detects each and the accounts it scopes:

============================  ======================  ======================================
fault (function)              check                   accounts
============================  ======================  ======================================
truncate_download             truncated_file          every account of the custodian
remove_statement              truncated_file          every account of the custodian
restamp_statements (all)      stale_file (declared    every account of the custodian
                              date != drop date)
restamp_statements (one)      stale_statement         the restamped statement's account
append_status_message         content_after_trailer   every account of the custodian
MALFORMED_DATETIME override   malformed_date          the account of the element
============================  ======================  ======================================
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fractions
import re
from collections.abc import Collection, Mapping
from xml.sax.saxutils import escape

import numpy as np
import polars as pl
from ibflex import enums

from rebalance_pipeline.generator.render import (
    MARK,
    DayFile,
    Spoiler,
    Truncated,
    fixed_decimal,
    session_before,
)
from rebalance_pipeline.ingest.custodians import ibkr_flex as flex

TIME = "093000"  # the time of day written with a date/time attribute
GENERATED = "210000"  # when the statement was generated
MALFORMED_DATETIME = "2026-02-30;093000"  # no such day: the quirky date/time of a bad row
STATUS_MESSAGE = "Statement generation in progress. Please try again shortly.\n"
SECTIONS = ("OpenPositions", "Trades", "CashTransactions", "CorporateActions", "CashReport")
CASH_ACTIONS = {
    "deposit": "Deposits & Withdrawals",
    "withdrawal": "Deposits & Withdrawals",
    "dividend": "Dividends",
    "fee": "Other Fees",
}
ACCOUNT_KINDS = ("positions", "lots", "transactions", "cash")
ENTITIES = {'"': "&quot;"}  # escaped in an attribute besides & < >
STOCK = {"currency": pl.lit("USD"), "assetCategory": pl.lit("STK")}
STATEMENT_ACCOUNT = re.compile(rb'<FlexStatement accountId="([^"]*)"')
STATEMENT_DATES = re.compile(
    rb'(<FlexStatement accountId="([^"]*)" fromDate=")[^"]*(" toDate=")[^"]*'
)


@dataclasses.dataclass(frozen=True)
class FlexFile:
    content: bytes
    lines: dict[str, int]  # fault id -> line of the first element marked with it


def render_flex(
    day: dt.date,
    frames: Mapping[str, pl.DataFrame],
    overrides: Mapping[str, tuple[str, str]] | None = None,
) -> FlexFile:
    """The Flex file of a custodian-day's canonical ``frames`` (with their ``_fault``
    marks). ``overrides`` (fault id -> (canonical column, text)) writes the text instead of
    the value in the attribute that carries that column, in the rows marked with the id."""
    accounts = sorted(
        {a for kind in ACCOUNT_KINDS for a in frames[kind]["account_id"].drop_nulls()}
    )
    specs = [
        *_open_positions(day, frames["positions"], frames["lots"], frames["prices"]),
        *_transactions(frames["transactions"]),
        _cash_report(day, frames["cash"]),
        _corporate_actions(frames["corporate_actions"], frames["positions"]),
    ]
    elements = pl.concat([spec.lines(overrides or {}) for spec in specs])
    elements = elements.with_columns(pl.col("account_id").fill_null(accounts[0]))
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<FlexQueryResponse queryName="{flex.QUERY_NAME}" type="AF">',
        f'<FlexStatements count="{len(accounts)}">',
    ]
    marks: dict[str, int] = {}
    by_account = elements.sort("account_id", "section", "key", maintain_order=True).partition_by(
        "account_id", "section", as_dict=True, include_key=False, maintain_order=True
    )
    for account in accounts:
        lines.append(_statement_tag(account, day))
        for rank, section in enumerate(SECTIONS):
            rows = by_account.get((account, rank))
            if rows is None:
                continue
            lines.append(f"<{section}>")
            for mark, line in rows.select(MARK, "xml").iter_rows():
                lines.append(line)
                if mark is not None:
                    marks.setdefault(mark, len(lines))
            lines.append(f"</{section}>")
        lines.append("</FlexStatement>")
    lines += ["</FlexStatements>", "</FlexQueryResponse>"]
    return FlexFile(("\n".join(lines) + "\n").encode(), marks)


class FlexWriter:
    """The generator's custodian in Interactive Brokers Flex Query XML: one file a day."""

    adapter_name = "ibkr_flex"
    adapter = flex.IbkrFlex()
    spoilers: Mapping[str, Spoiler] = {
        "trailing_junk": lambda content, day: append_status_message(content),
        "stale_header_date": lambda content, day: restamp_statements(content, session_before(day)),
        "statement_missing": lambda content, day: remove_statement(
            content, middle_account(content)
        ),
    }
    malformed_date = MALFORMED_DATETIME

    def day_files(
        self,
        day: dt.date,
        frames: Mapping[str, pl.DataFrame],
        overrides: Mapping[str, tuple[str, str]],
        unquoted: Collection[str],
    ) -> list[DayFile]:
        """The day's one file; none on a day without accounts (a Flex statement is an
        account's: prices alone make no file)."""
        if any(kind not in frames or frames[kind].is_empty() for kind in ("positions", "cash")):
            return []
        written = render_flex(day, frames, overrides)
        return [DayFile(flex.KINDS, flex.file_name(day), written.content, written.lines)]

    def truncate(self, file: DayFile, rng: np.random.Generator) -> Truncated:
        return Truncated(truncate_download(file.content, rng), None)


def _statement_tag(account: str, day: dt.date) -> str:
    return (
        f'<FlexStatement accountId="{escape(account, ENTITIES)}" fromDate="{day}" '
        f'toDate="{day}" period="LastBusinessDay" whenGenerated="{day};{GENERATED}">'
    )


def _escape(value: pl.Expr) -> pl.Expr:
    """Attribute text escaped for XML; null is written as an empty attribute."""
    escaped = value.str.replace_all("&", "&amp;", literal=True)
    escaped = escaped.str.replace_all("<", "&lt;", literal=True)
    return escaped.str.replace_all('"', "&quot;", literal=True).fill_null("")


@dataclasses.dataclass(frozen=True)
class Elements:
    """One element of ``tag`` per row of ``frame``, in ``section``, ordered by ``key``."""

    frame: pl.DataFrame
    tag: str
    section: str
    key: pl.Expr
    attributes: dict[str, pl.Expr]

    def lines(self, overrides: Mapping[str, tuple[str, str]]) -> pl.DataFrame:
        """(account_id, section rank, key, _fault, xml) of each element."""
        written = []
        for name, value in self.attributes.items():
            for fault_id, (column, text) in overrides.items():
                if _carries(self.tag, name, column):
                    value = pl.when(pl.col(MARK) == fault_id).then(pl.lit(text)).otherwise(value)
            written += [pl.lit(f' {name}="'), _escape(value.cast(pl.String)), pl.lit('"')]
        account = "account_id" if "account_id" in self.frame.columns else None
        return self.frame.select(
            pl.col(account) if account else pl.lit(None, pl.String).alias("account_id"),
            pl.lit(SECTIONS.index(self.section), pl.Int64).alias("section"),
            self.key.alias("key"),
            pl.col(MARK),
            pl.concat_str(pl.lit(f"<{self.tag}"), *written, pl.lit(" />")).alias("xml"),
        )


def _carries(tag: str, attribute: str, column: str) -> bool:
    """Whether the reader takes ``attribute`` of a ``tag`` element as ``column``."""
    return any(
        source.tag == tag and source.attributes.get(attribute) == column
        for sources in flex.SOURCES.values()
        for source in sources
    )


def _date_time(column: str) -> pl.Expr:
    return pl.concat_str(pl.col(column).dt.strftime("%Y-%m-%d"), pl.lit(f";{TIME}"))


def _date(column: str) -> pl.Expr:
    return pl.col(column).dt.strftime("%Y-%m-%d")


def _open_positions(
    day: dt.date, positions: pl.DataFrame, lots: pl.DataFrame, prices: pl.DataFrame
) -> list[Elements]:
    """SUMMARY positions, each followed by its LOTs, all at the day's close."""
    close = prices.select("symbol", fixed_decimal("close").alias("_close"))
    common = {
        "accountId": pl.col("account_id"),
        **STOCK,
        "symbol": pl.col("symbol"),
        "reportDate": pl.lit(str(day)),
        "position": fixed_decimal("quantity"),
        "markPrice": pl.col("_close"),
    }
    symbol = pl.col("symbol").fill_null("")
    summary = Elements(
        positions.join(close, on="symbol", how="left", maintain_order="left"),
        "OpenPosition",
        "OpenPositions",
        pl.concat_str(symbol, pl.lit("\x00")),
        common | {"levelOfDetail": pl.lit("SUMMARY"), "side": pl.lit("Long")},
    )
    lot = Elements(
        lots.join(close, on="symbol", how="left", maintain_order="left"),
        "OpenPosition",
        "OpenPositions",
        pl.concat_str(symbol, pl.lit("\x01"), pl.col("lot_id").fill_null("")),
        common
        | {
            "costBasisMoney": fixed_decimal("cost_basis"),
            "levelOfDetail": pl.lit("LOT"),
            "openDateTime": _date_time("acquired_date"),
            "holdingPeriodDateTime": _date_time("acquired_date"),
            "originatingTransactionID": pl.col("lot_id"),
            "side": pl.lit("Long"),
        },
    )
    return [summary, lot]


def _transactions(transactions: pl.DataFrame) -> list[Elements]:
    """Buys and sells as executions (a sell followed by the lot it closed), the other
    types as cash transactions."""
    trade = pl.col("type").is_in(["buy", "sell"])
    sell = pl.col("type") == "sell"
    basis = pl.col("cost_basis") if "cost_basis" in transactions.columns else None
    trades = transactions.filter(trade).with_columns(
        quantity=pl.when(sell).then(-pl.col("quantity")).otherwise(pl.col("quantity")),
        cost_basis=pl.lit(None, pl.Float64) if basis is None else -basis,
    )
    transaction = pl.col("transaction_id").fill_null("")
    stock = {"accountId": pl.col("account_id"), **STOCK, "symbol": pl.col("symbol")}
    executions = Elements(
        trades,
        "Trade",
        "Trades",
        pl.concat_str(transaction, pl.lit("\x00")),
        stock
        | {
            "transactionID": pl.col("transaction_id"),
            "tradeDate": _date("trade_date"),
            "dateTime": _date_time("trade_date"),
            "buySell": pl.col("type").str.to_uppercase(),
            "quantity": fixed_decimal("quantity"),
            "tradePrice": fixed_decimal("price"),
            "netCash": fixed_decimal("amount"),
            "cost": fixed_decimal("cost_basis"),
            "fifoPnlRealized": pl.when(sell)
            .then(fixed_decimal("realized_gain"))
            .otherwise(pl.lit("0")),
            "openCloseIndicator": pl.when(sell).then(pl.lit("C")).otherwise(pl.lit("O")),
            "levelOfDetail": pl.lit("EXECUTION"),
        },
    )
    closed_lots = Elements(
        trades.filter(sell & pl.col("lot_id").is_not_null()),
        "Lot",
        "Trades",
        pl.concat_str(transaction, pl.lit("\x01")),
        stock
        | {
            "transactionID": pl.col("transaction_id"),
            "origTransactionID": pl.col("lot_id"),
            "tradeDate": _date("trade_date"),
            "buySell": pl.lit("SELL"),
            "quantity": fixed_decimal("quantity"),
            "levelOfDetail": pl.lit("CLOSED_LOT"),
        },
    )
    cash = Elements(
        transactions.filter(~trade),
        "CashTransaction",
        "CashTransactions",
        transaction,
        {
            "accountId": pl.col("account_id"),
            "currency": pl.lit("USD"),
            "symbol": pl.col("symbol"),
            "dateTime": _date_time("trade_date"),
            "amount": fixed_decimal("amount"),
            "type": pl.col("type").replace(CASH_ACTIONS),
            "transactionID": pl.col("transaction_id"),
        },
    )
    return [executions, closed_lots, cash]


def _cash_report(day: dt.date, cash: pl.DataFrame) -> Elements:
    return Elements(
        cash,
        "CashReportCurrency",
        "CashReport",
        pl.lit(""),
        {
            "accountId": pl.col("account_id"),
            "currency": pl.lit(flex.BASE_CURRENCY),
            "fromDate": pl.lit(str(day)),
            "toDate": pl.lit(str(day)),
            "endingCash": fixed_decimal("cash"),
        },
    )


def _corporate_actions(actions: pl.DataFrame, positions: pl.DataFrame) -> Elements:
    """Each action in the statement of every account holding its security (the first
    statement when none does)."""
    described = [_described(row) for row in actions.iter_rows(named=True)]
    flex_text = pl.DataFrame(
        described, schema={"_type": pl.String, "_description": pl.String}, orient="row"
    )
    holders = positions.select("account_id", "security_id").unique(maintain_order=True)
    placed = pl.concat([actions, flex_text], how="horizontal").join(
        holders, on="security_id", how="left", maintain_order="left"
    )
    return Elements(
        placed,
        "CorporateAction",
        "CorporateActions",
        pl.concat_str(pl.col("symbol").fill_null(""), pl.col("_type").fill_null("")),
        {
            "accountId": pl.col("account_id"),
            **STOCK,
            "symbol": pl.col("symbol"),
            "description": pl.col("_description"),
            "dateTime": _date_time("effective_date"),
            "reportDate": _date("effective_date"),
            "type": pl.col("_type"),
        },
    )


def _described(action: dict) -> tuple[str | None, str | None]:
    """The Flex type and IBKR's description of a split (``SPLIT a FOR b``, forward or
    reverse) or a symbol change (the new symbol first in the last parentheses)."""
    symbol = action["symbol"]
    if action["action"] == "split" and action["ratio"] is not None:
        ratio = fractions.Fraction(action["ratio"]).limit_denominator(1000)
        split = enums.Reorg.FORWARDSPLIT if ratio >= 1 else enums.Reorg.REVERSESPLIT
        words = f"SPLIT {ratio.numerator} FOR {ratio.denominator}"
        return split.value, f"{symbol} {words} ({symbol}, {symbol}, )"
    if action["action"] == "symbol_change":
        new = action["new_symbol"]
        change = f"{symbol} CUSIP/ISIN CHANGE TO () ({new}, {new}, )"
        return enums.Reorg.ISSUECHANGE.value, change
    return action["action"], None


# --------------------------------------------------------------------------------------
# Faults of a Flex delivery (see the table in the module docstring)
# --------------------------------------------------------------------------------------
def truncate_download(content: bytes, rng: np.random.Generator) -> bytes:
    """The file cut short inside its statements, as an interrupted download leaves it."""
    start = content.index(b"<FlexStatement ")
    end = content.index(b"</FlexStatements>")
    return content[: int(rng.integers(start + 1, end))]


def middle_account(content: bytes) -> str:
    """The account of the middle statement of a Flex file."""
    accounts = STATEMENT_ACCOUNT.findall(content)
    return accounts[len(accounts) // 2].decode()


def remove_statement(content: bytes, account: str) -> bytes:
    """The file without ``account``'s statement, its ``count`` left as it was."""
    start = content.index(f'<FlexStatement accountId="{account}"'.encode())
    end = content.index(b"</FlexStatement>\n", start) + len(b"</FlexStatement>\n")
    return content[:start] + content[end:]


def restamp_statements(content: bytes, day: dt.date, account: str | None = None) -> bytes:
    """The statements (or only ``account``'s) dated ``day`` instead of their own date."""

    def restamp(match: re.Match) -> bytes:
        if account is not None and match.group(2).decode() != account:
            return match.group(0)
        return match.group(1) + str(day).encode() + match.group(3) + str(day).encode()

    return STATEMENT_DATES.sub(restamp, content)


def append_status_message(content: bytes) -> bytes:
    """The file with a Flex service status message after its end (a download saved over
    a retry)."""
    return content + STATUS_MESSAGE.encode()
