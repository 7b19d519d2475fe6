"""Interactive Brokers Flex Query XML: one daily Activity Flex statement per custodian-day,
holding every canonical kind for every account, read with the ``ibflex`` library.

The layout (IBKR's Activity Flex Query, dates ``yyyy-MM-dd``, date/time ``yyyy-MM-dd;HHmmss``)::

    <FlexQueryResponse queryName="rebalance_daily" type="AF">
      <FlexStatements count="2">              the number of statements the file holds
        <FlexStatement accountId="U1" fromDate=".." toDate=".." period=".." whenGenerated="..">
          <OpenPositions>    OpenPosition levelOfDetail="SUMMARY", each followed by its "LOT"s
          <Trades>           Trade, a sell followed by the Lot levelOfDetail="CLOSED_LOT" it closed
          <CashTransactions> CashTransaction (deposits, withdrawals, dividends, fees)
          <CorporateActions> CorporateAction (FS/RS split, IC symbol change), per account holding it
          <CashReport>       CashReportCurrency currency="BASE_SUMMARY" (the account's cash)
        </FlexStatement> ...

Mapping decisions:

- positions: the SUMMARY open positions (``position`` is the quantity).
- lots: the LOT open positions. ``lot_id`` is ``originatingTransactionID``, the id of the
  transaction that opened the lot: IBKR keeps it for the lot's life, so a lot keeps its id from
  day to day; ``acquired_date`` is the date of ``openDateTime``; ``cost_basis`` is
  ``costBasisMoney`` (total dollars).
- transactions: executions (``Trade``) and ``CashTransaction``. ``quantity`` is unsigned (Flex
  sells are negative), ``amount`` is ``netCash`` / ``amount`` (signed cash effect); for a sell,
  ``realized_gain`` is ``fifoPnlRealized``, ``cost_basis`` is ``-cost`` and ``lot_id`` the
  ``origTransactionID`` of the one CLOSED_LOT it closed (a partial close leaves the rest of the
  lot open). A buy names no lot (the lot it opened is the one whose id is the buy's
  ``transactionID``); nor does a sell that closed several lots. A type outside the canonical six
  keeps its Flex text, for the contract check to reject.
- cash: ``endingCash`` of the ``BASE_SUMMARY`` cash report row.
- prices: the ``markPrice`` of the SUMMARY positions on their ``reportDate``, one row per symbol
  (a Flex statement prices what the accounts hold; a held security no custodian prices is a
  missing price).
- corporate_actions: ``CorporateAction`` once per action (each holding account repeats it):
  FS/RS are splits whose ratio is the description's ``SPLIT a FOR b``; IC is a symbol change
  to the first symbol of the description's last ``(SYMBOL, NAME, ISIN)``.

A value that does not convert is null with a finding scoped to the element's account; the
file's integrity (well-formed, every statement of ``count`` present) and each statement's
``toDate`` are checked once per file and reported with every kind read from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import polars as pl
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError
from ibflex import Types, enums
from ibflex.parser import FlexParserError, parse_element_attr

from rebalance_pipeline.ingest.custodians.adapter import (
    KIND_SCHEMAS,
    KINDS,
    ROW_FINDINGS,
    FileReading,
    UnreadableFile,
)

QUERY_NAME = "rebalance_daily"
FILE_DATE = re.compile(r"\.(\d{8})\.xml$")
ROOT = "FlexQueryResponse"
STATEMENT = "FlexStatement"
ELEMENT_DEPTH = 5  # FlexQueryResponse > FlexStatements > FlexStatement > section > element
BASE_CURRENCY = "BASE_SUMMARY"
# expat errors of a document that ends early: no element found, unclosed token, partial char
CUT_SHORT = frozenset({3, 5, 6})
JUNK_AFTER_DOCUMENT = 9
SPLIT_RATIO = re.compile(r"SPLIT (\d+(?:\.\d+)?) FOR (\d+(?:\.\d+)?)")
NEW_SYMBOL = re.compile(r"\(([^,()]+),[^()]*\)\s*$")
NOT_READ = ("custodian", "source_file", "security_id")  # filled by ingest, not by the file


@dataclasses.dataclass(frozen=True)
class Source:
    """Elements of one section that feed a kind, and the canonical column of each attribute
    read (None: read to decide the row, not a column of its own)."""

    section: str
    tag: str
    attributes: dict[str, str | None]
    select: tuple[str, str] | None = None  # (attribute, text) an element must have


POSITION = {"accountId": "account_id", "symbol": "symbol", "position": "quantity"}
TRADE = {
    "accountId": "account_id",
    "transactionID": "transaction_id",
    "tradeDate": "trade_date",
    "buySell": "type",
    "symbol": "symbol",
    "quantity": "quantity",
    "tradePrice": "price",
    "netCash": "amount",
    "fifoPnlRealized": "realized_gain",
    "cost": "cost_basis",
}
CLOSED_LOT = {"accountId": None, "transactionID": None, "origTransactionID": "lot_id"}
CASH_TRANSACTION = {
    "accountId": "account_id",
    "transactionID": "transaction_id",
    "dateTime": "trade_date",
    "type": "type",
    "symbol": "symbol",
    "amount": "amount",
}
SOURCES: dict[str, tuple[Source, ...]] = {
    "positions": (Source("OpenPositions", "OpenPosition", POSITION, ("levelOfDetail", "SUMMARY")),),
    "lots": (
        Source(
            "OpenPositions",
            "OpenPosition",
            POSITION
            | {
                "originatingTransactionID": "lot_id",
                "costBasisMoney": "cost_basis",
                "openDateTime": "acquired_date",
            },
            ("levelOfDetail", "LOT"),
        ),
    ),
    "transactions": (
        Source("Trades", "Trade", TRADE),
        Source("Trades", "Lot", CLOSED_LOT, ("levelOfDetail", "CLOSED_LOT")),
        Source("CashTransactions", "CashTransaction", CASH_TRANSACTION),
    ),
    "cash": (
        Source(
            "CashReport",
            "CashReportCurrency",
            {"accountId": "account_id", "endingCash": "cash"},
            ("currency", BASE_CURRENCY),
        ),
    ),
    "prices": (
        Source(
            "OpenPositions",
            "OpenPosition",
            {
                "accountId": None,
                "symbol": "symbol",
                "reportDate": "price_date",
                "markPrice": "close",
            },
            ("levelOfDetail", "SUMMARY"),
        ),
    ),
    "corporate_actions": (
        Source(
            "CorporateActions",
            "CorporateAction",
            {
                "accountId": None,
                "symbol": "symbol",
                "type": "action",
                "dateTime": "effective_date",
                "description": None,
            },
        ),
    ),
}
TRADE_TYPES = {enums.BuySell.BUY: "buy", enums.BuySell.SELL: "sell"}
CASH_TYPES = {
    enums.CashAction.DIVIDEND: "dividend",
    enums.CashAction.PAYMENTINLIEU: "dividend",
    enums.CashAction.FEES: "fee",
    enums.CashAction.ADVISORFEES: "fee",
}
SPLITS = (enums.Reorg.FORWARDSPLIT, enums.Reorg.REVERSESPLIT)


def file_name(day: dt.date) -> str:
    """The name of the daily Flex file of ``day`` (one file carries every kind)."""
    return f"{QUERY_NAME}.{day:%Y%m%d}.xml"


def file_date(name: str) -> dt.date | None:
    """The date in a Flex file's name; None when the name carries no valid date."""
    match = FILE_DATE.search(name)
    if match is None:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None


@dataclasses.dataclass(frozen=True)
class Element:
    """A data element as delivered: its attributes' text, its line and its statement."""

    tag: str
    section: str
    attributes: dict[str, str]
    line: int
    statement: int  # index in Document.statements


@dataclasses.dataclass
class Document:
    """What the XML of a Flex file holds, as text."""

    statements: list[Element] = dataclasses.field(default_factory=list)
    elements: list[Element] = dataclasses.field(default_factory=list)
    count: str | None = None  # the FlexStatements count attribute as sent
    faults: list[tuple[str, str]] = dataclasses.field(default_factory=list)


class _Collector:
    """Parser target keeping every data element of the statements with its line."""

    def __init__(self) -> None:
        self.document = Document()
        self.path: list[str] = []
        self.line: Callable[[], int] = lambda: 0

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        if not self.path and tag != ROOT:
            raise UnreadableFile(f"root element is <{tag}>, not <{ROOT}>")
        self.path.append(tag)
        document, depth = self.document, len(self.path)
        if tag == "FlexStatements" and depth == 2:
            document.count = attributes.get("count")
        elif tag == STATEMENT and depth == 3:
            index = len(document.statements)
            document.statements.append(
                Element(tag, "FlexStatements", dict(attributes), self.line(), index)
            )
        elif depth == ELEMENT_DEPTH and document.statements and self.path[2] == STATEMENT:
            statement = len(document.statements) - 1
            document.elements.append(
                Element(tag, self.path[3], dict(attributes), self.line(), statement)
            )

    def end(self, tag: str) -> None:
        self.path.pop()

    def data(self, text: str) -> None:
        pass

    def close(self) -> Document:
        return self.document


class _RecentDocuments:
    """The documents of the files read last, each parsed once for every kind read from it.

    One Flex file holds all six kinds, and ingest reads it once per kind for the raw
    tables and once per kind for the canonical ones, several at a time in threads: without
    this, a date parsed today's file twelve times. A file is known by its bytes; a parse
    under way is waited for, not started again; a file that is not a Flex document raises
    for every reader. Only the last ``size`` files are kept: a document takes several
    times its file's size in memory.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._documents: OrderedDict[bytes, Future[Document]] = OrderedDict()

    def document(self, content: bytes) -> Document:
        with self._lock:
            parsing = self._documents.get(content)
            first = parsing is None
            if first:
                parsing = self._documents[content] = Future()
                while len(self._documents) > self._size:
                    self._documents.popitem(last=False)
            else:
                self._documents.move_to_end(content)
        if first:
            try:
                parsing.set_result(parse_document(content))
            except UnreadableFile as error:  # what these bytes are: kept for every reader
                parsing.set_exception(error)
            except BaseException as error:  # the readers waiting get it too, a later one retries
                parsing.set_exception(error)
                self._forget(content, parsing)
        return parsing.result()

    def _forget(self, content: bytes, parsing: Future[Document]) -> None:
        with self._lock:
            if self._documents.get(content) is parsing:
                del self._documents[content]


RECENT_DOCUMENTS = _RecentDocuments(size=1)


def read_document(content: bytes) -> Document:
    """The statements and data elements of a Flex file (parsed once while it is among the
    files read last, see :class:`_RecentDocuments`)."""
    return RECENT_DOCUMENTS.document(content)


def parse_document(content: bytes) -> Document:
    """The statements and data elements of a Flex file. Raises UnreadableFile when the bytes
    are not a Flex XML document; a document that ends early or has content after its end
    keeps what was read, with a file fault."""
    collector = _Collector()
    parser = DefusedXMLParser(target=collector)
    collector.line = lambda: parser.parser.CurrentLineNumber
    try:
        parser.feed(content)
        parser.close()
    except ParseError as error:
        read_nothing = not collector.path and not collector.document.statements
        if read_nothing and error.code != JUNK_AFTER_DOCUMENT:
            raise UnreadableFile(f"not well-formed XML ({error})") from error
        if error.code in CUT_SHORT:
            message = f"the XML ends before its elements close ({error}): truncated file"
            collector.document.faults.append(("truncated_file", message))
        elif error.code == JUNK_AFTER_DOCUMENT:
            message = f"content after the end of <{ROOT}> ({error})"
            collector.document.faults.append(("content_after_trailer", message))
        else:
            raise UnreadableFile(f"not well-formed XML ({error})") from error
    except DefusedXmlException as error:
        raise UnreadableFile(f"forbidden XML construct: {error!r}") from error
    return collector.document


def read_flex(content: bytes, kind: str) -> FileReading:
    """The canonical rows of ``kind`` in a Flex file, with their findings (see the module)."""
    document = read_document(content)
    found: list[dict] = []
    declared = _statement_dates(document, found)
    typed: Typed = {source.tag: [] for source in SOURCES[kind]}
    for source in SOURCES[kind]:
        for element in _elements(document, source):
            values = _convert(element, source, _account(document, element), found)
            typed[source.tag].append((element, values))
    if kind in BUILDERS:
        rows = BUILDERS[kind](typed, found)
    else:
        (source,) = SOURCES[kind]
        rows = _plain(source, typed[source.tag])
    schema = {k: v for k, v in KIND_SCHEMAS[kind].items() if k not in NOT_READ}
    frame = pl.DataFrame(rows, schema=schema)
    if kind in ("prices", "corporate_actions"):  # each account holding it repeats it
        frame = frame.unique([c for c in schema if c != "source_row"], keep="first")
        frame = frame.sort("source_row")
    return FileReading(
        rows=frame,
        row_findings=pl.DataFrame(found, schema=ROW_FINDINGS).sort("source_row", "column"),
        file_findings=(*document.faults, *_count_findings(document)),
        declared_date=declared,
        detail_rows=frame.height,
    )


class IbkrFlex:
    """The ``ibkr_flex`` adapter: one daily Activity Flex Query file carries every kind."""

    kinds = KINDS

    def file_name(self, kind: str, day: dt.date) -> str:
        return file_name(day)

    def file_date(self, file_name: str) -> dt.date | None:
        return file_date(file_name)

    def read_files(
        self, contents: list[bytes], kind: str, keep: pl.DataFrame | None = None
    ) -> list[FileReading | UnreadableFile]:
        return [_reading(content, kind) for content in contents]

    def raw_columns(self, kind: str) -> tuple[str, ...]:
        return raw_columns(kind)

    def raw_records(self, content: bytes, kind: str) -> pl.DataFrame:
        return raw_records(content, kind)

    def detail_rows(self, content: bytes, kind: str) -> int:
        """Elements of the kind's first source, counted by their opening tag (and the
        level of detail that selects them)."""
        source = SOURCES[kind][0]
        if source.select is None:
            return content.count(f"<{source.tag} ".encode())
        name, text = source.select
        return content.count(f'{name}="{text}"'.encode())


def _reading(content: bytes, kind: str) -> FileReading | UnreadableFile:
    try:
        return read_flex(content, kind)
    except UnreadableFile as error:
        return error


def raw_columns(kind: str) -> tuple[str, ...]:
    """The raw table columns of ``kind``: the element's tag and the attributes read."""
    attributes = dict.fromkeys(
        name
        for source in SOURCES[kind]
        for name in (*source.attributes, *(source.select[:1] if source.select else ()))
    )
    return ("element", *attributes)


def raw_records(content: bytes, kind: str) -> pl.DataFrame:
    """The elements a kind is read from, every attribute as delivered (text): the columns of
    :func:`raw_columns`, the other attributes as ``name="value"`` in ``extra_fields``, and
    the element's line as ``source_row``."""
    columns = raw_columns(kind)
    document = read_document(content)
    records = []
    for source in SOURCES[kind]:
        for element in _elements(document, source):
            attributes = element.attributes
            extra = " ".join(f'{k}="{v}"' for k, v in attributes.items() if k not in columns)
            records.append(
                {"element": element.tag}
                | {name: attributes.get(name) for name in columns[1:]}
                | {"extra_fields": extra or None, "source_row": element.line}
            )
    schema = dict.fromkeys((*columns, "extra_fields"), pl.String) | {"source_row": pl.Int64}
    return pl.DataFrame(records, schema=schema).sort("source_row")


def _elements(document: Document, source: Source) -> list[Element]:
    selected = [e for e in document.elements if (e.section, e.tag) == (source.section, source.tag)]
    if source.select is None:
        return selected
    name, text = source.select
    return [e for e in selected if e.attributes.get(name) == text]


def _account(document: Document, element: Element) -> str | None:
    """The element's account: its accountId, else its statement's."""
    account = element.attributes.get("accountId") or document.statements[
        element.statement
    ].attributes.get("accountId")
    return account or None


def _convert(element: Element, source: Source, account: str | None, found: list[dict]) -> dict:
    """The element's attributes read by ``source``, converted by ibflex (absent or empty:
    None); a value that does not convert is None with a finding."""
    flex_type = getattr(Types, element.tag)
    values: dict[str, Any] = {"_account": account}
    for attribute, column in source.attributes.items():
        text = element.attributes.get(attribute)
        values[attribute] = None
        if text is None:
            continue
        try:
            values[attribute] = _converted(flex_type, attribute, text)
        except FlexParserError as error:
            check = _check(flex_type.__annotations__[attribute])
            message = f"{element.tag} {attribute} {text!r} does not convert ({error})"
            found.append(_finding(element.line, account, check, message, column or ""))
    return values


@functools.lru_cache(maxsize=1 << 16)
def _converted(flex_type: type, attribute: str, text: str) -> Any:
    """ibflex's value of an attribute's text. The accounts of a file repeat most texts
    (symbols, currencies, dates, the day's mark prices), and each is converted once; the
    values are immutable, so one serves every element."""
    return parse_element_attr(flex_type, attribute, text)[1]


def _check(annotation: str) -> str:
    if "date" in annotation:
        return "malformed_date"
    if "Decimal" in annotation:
        return "malformed_number"
    return "malformed_row"


def _finding(line: int, account: str | None, check: str, message: str, column: str) -> dict:
    return {
        "source_row": line,
        "account_ids": [account] if account else [],
        "check": check,
        "message": message,
        "column": column,
    }


def _statement_dates(document: Document, found: list[dict]) -> dt.date | None:
    """The file's as-of date: the latest statement ``toDate``. A statement of an earlier
    date is stale (a finding of its account); one whose toDate does not convert, malformed."""
    dates = []
    for statement in document.statements:
        account = _account(document, statement)
        text = statement.attributes.get("toDate", "")
        try:
            dates.append(
                (statement, account, parse_element_attr(Types.FlexStatement, "toDate", text)[1])
            )
        except FlexParserError as error:
            message = f"FlexStatement toDate {text!r} does not convert ({error})"
            found.append(_finding(statement.line, account, "malformed_date", message, ""))
    if not dates:
        return None
    declared = max(date for _, _, date in dates)
    for statement, account, date in dates:
        if date < declared:
            message = f"the statement of {account} is dated {date}, the file {declared}"
            found.append(_finding(statement.line, account, "stale_statement", message, ""))
    return declared


def _count_findings(document: Document) -> list[tuple[str, str]]:
    """The FlexStatements ``count`` against the statements read."""
    read = len(document.statements)
    if document.count is None or not document.count.isdigit():
        return [("malformed_trailer", f"FlexStatements count {document.count!r} is not a number")]
    if int(document.count) != read and not document.faults:
        message = f"FlexStatements count={document.count}, {read} statements read: truncated file"
        return [("truncated_file", message)]
    return []


Typed = dict[str, list[tuple[Element, dict]]]


def _day(value: dt.date | None) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def _canonical(value: Any) -> Any:
    """A converted Flex value as its canonical column holds it."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    return _day(value)


def _plain(source: Source, typed: list[tuple[Element, dict]]) -> list[dict]:
    """Rows of a kind whose columns are its attributes, converted one for one."""
    return [
        {column: _canonical(values[name]) for name, column in source.attributes.items() if column}
        | {"source_row": element.line}
        for element, values in typed
    ]


def _transactions(typed: Typed, found: list[dict]) -> list[dict]:
    closed: dict[tuple, list[str | None]] = {}
    for _, v in typed["Lot"]:
        closed.setdefault((v["_account"], v["transactionID"]), []).append(v["origTransactionID"])
    rows = []
    for e, v in typed["Trade"]:
        side = v["buySell"]
        sell = side == enums.BuySell.SELL
        lots = closed.get((v["_account"], v["transactionID"]), [])
        quantity, cost = v["quantity"], v["cost"]
        rows.append(
            {
                "transaction_id": v["transactionID"],
                "account_id": v["accountId"],
                "trade_date": v["tradeDate"],
                "type": TRADE_TYPES.get(side, side and side.value),
                "symbol": v["symbol"],
                "quantity": None if quantity is None else abs(float(quantity)),
                "price": _canonical(v["tradePrice"]),
                "amount": _canonical(v["netCash"]),
                "realized_gain": _canonical(v["fifoPnlRealized"]) if sell else None,
                "cost_basis": -float(cost) if sell and cost is not None else None,
                "lot_id": lots[0] if sell and len(lots) == 1 else None,
                "source_row": e.line,
            }
        )
    for e, v in typed["CashTransaction"]:
        rows.append(
            {
                "transaction_id": v["transactionID"],
                "account_id": v["accountId"],
                "trade_date": _day(v["dateTime"]),
                "type": _cash_type(v["type"], v["amount"]),
                "symbol": v["symbol"],
                "amount": _canonical(v["amount"]),
                "source_row": e.line,
            }
        )
    return rows


def _cash_type(action: enums.CashAction | None, amount: decimal.Decimal | None) -> str | None:
    if action == enums.CashAction.DEPOSITWITHDRAW:
        return "withdrawal" if amount is not None and amount < 0 else "deposit"
    return CASH_TYPES.get(action, action and action.value)


def _corporate_actions(typed: Typed, found: list[dict]) -> list[dict]:
    rows = []
    for e, v in typed["CorporateAction"]:
        action, description = v["type"], v["description"] or ""
        row = {
            "symbol": v["symbol"],
            "action": action and action.value,
            "effective_date": _day(v["dateTime"]),
            "source_row": e.line,
        }
        if action in SPLITS:
            ratio = SPLIT_RATIO.search(description)
            row |= {"action": "split", "ratio": _ratio(ratio)}
            if ratio is None:
                message = f"split description {description!r} states no 'SPLIT a FOR b' ratio"
                found.append(_finding(e.line, v["_account"], "malformed_number", message, "ratio"))
        elif action == enums.Reorg.ISSUECHANGE:
            new_symbol = NEW_SYMBOL.search(description)
            row |= {"action": "symbol_change", "new_symbol": new_symbol and new_symbol.group(1)}
            if new_symbol is None:
                message = f"symbol change description {description!r} names no new symbol"
                found.append(
                    _finding(e.line, v["_account"], "malformed_row", message, "new_symbol")
                )
        rows.append(row)
    return rows


def _ratio(match: re.Match | None) -> float | None:
    if match is None:
        return None
    return float(decimal.Decimal(match.group(1)) / decimal.Decimal(match.group(2)))


# the kinds whose rows are more than their attributes converted one for one
BUILDERS: dict[str, Callable[[Typed, list[dict]], list[dict]]] = {
    "transactions": _transactions,
    "corporate_actions": _corporate_actions,
}
