"""``birch_pipe``: the birch (Pershing-style) format.

``<KIND>.YYMMDD.dat``, pipe-delimited records: a header ``H|BIRCH|<KIND>|MM/DD/YYYY|<firm>``,
detail records ``D|...`` in the positional layout below, and a trailer
``T|<detail count>|<checksum>``. Dates are MM/DD/YYYY, amounts carry thousands
separators, quantities are unsigned with a one-character sign field before them, and
symbols may use ``/`` for a share-class suffix (``BRK/B`` for ``BRK.B``).

A birch file is whole when its last line is a trailer that counts and sums the records
between it and the header; its header date is the date it states about itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re

import polars as pl

from rebalance_pipeline.ingest.custodians.adapter import UnreadableFile
from rebalance_pipeline.ingest.custodians.text_records import Body, Layout, TextRecordsFormat

KIND_CODES = {
    "positions": "POSITIONS",
    "lots": "LOTS",
    "transactions": "TRANSACTIONS",
    "cash": "CASH",
    "prices": "PRICES",
    "corporate_actions": "CORPACT",
}
FIRM_NAME = "ROBO WEALTH PARTNERS"
# Detail fields after the leading ``D``, in file order.  ``QTY_SIGN`` holds the sign of
# the unsigned quantity that follows it.
FIELDS: dict[str, tuple[str, ...]] = {
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
TO_CANONICAL = {
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
TRANSACTION_CODES = {
    "buy": "BUY",
    "sell": "SEL",
    "deposit": "DEP",
    "withdrawal": "WDL",
    "dividend": "DIV",
    "fee": "FEE",
}
ACTION_CODES = {"split": "SPLIT", "symbol_change": "SYMCHG"}
DATE_FORMAT = "%m/%d/%Y"
GROUPED_NUMBER = r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$"
TRAILER = re.compile(r"T\|\d+\|[0-9a-f]{16}")


def trailer_checksum(detail_block: bytes | memoryview) -> str:
    """Checksum of a birch trailer: SHA-256 hex (16 chars) of the detail lines joined by \\n."""
    return hashlib.sha256(detail_block).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Envelope:
    """What a birch file says about itself, around its detail records."""

    header_date: dt.date
    last_line: int  # line number of the last line of the file
    trailer: str | None  # the trailer record as sent (None: the file has none)
    lines_after_trailer: int
    computed_checksum: str  # over the lines between the header and the trailer

    @property
    def _trailer_fields(self) -> list[str]:
        return (self.trailer or "").split("|")

    @property
    def trailer_rows(self) -> int | None:
        fields = self._trailer_fields
        return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None

    @property
    def trailer_checksum(self) -> str | None:
        fields = self._trailer_fields
        return fields[2] if len(fields) > 2 else None

    def integrity_findings(self, details: int) -> tuple[tuple[str, str], ...]:
        """(check, message) of each way the file is not whole: no trailer, a trailer of
        another shape, a count or checksum the records read do not match, lines after it."""
        if self.trailer is None:
            message = f"{{file}} has no trailer record (it ends at line {self.last_line})"
            return (("truncated_file", f"{message}: truncated file"),)
        found = []
        if TRAILER.fullmatch(self.trailer) is None:
            message = f"{{file}}: trailer {self.trailer!r} is not T|<record count>|<checksum>"
            found.append(("malformed_trailer", message))
        elif self.trailer_rows != details:
            message = f"{{file}}: trailer claims {self.trailer_rows} records, {details} read"
            found.append(("truncated_file", f"{message}: truncated file"))
        elif self.trailer_checksum != self.computed_checksum:
            message = (
                f"{{file}}: checksum mismatch, the trailer says {self.trailer_checksum}, "
                f"the records read sum to {self.computed_checksum}"
            )
            found.append(("checksum_mismatch", message))
        if self.lines_after_trailer:
            message = f"{{file}} has {self.lines_after_trailer} line(s) after its trailer"
            found.append(("content_after_trailer", message))
        return tuple(found)


class BirchPipe(TextRecordsFormat):
    separator = "|"
    date_format = DATE_FORMAT
    file_date_pattern = r"\.(\d{6})\.dat$"
    file_date_format = "%y%m%d"

    def file_name(self, kind: str, day: dt.date) -> str:
        return f"{KIND_CODES[kind]}.{day:%y%m%d}.dat"

    def layout(self, kind: str) -> Layout:
        return Layout(FIELDS[kind], account="ACCT_NO", lead="D", canonical=TO_CANONICAL)

    def read_body(self, content: bytes, kind: str) -> tuple[Body, Envelope]:
        """The detail records (the lines between header and trailer), and the envelope:
        the header's date and whatever stands where the trailer should be.

        The file is searched as bytes (a line end or ``T`` is one byte in UTF-8) and only
        the detail block is decoded: a large file is not copied line by line as text."""
        code = KIND_CODES[kind]
        end = len(content) - 1 if content.endswith(b"\n") else len(content)  # last line end
        header_end = _find(content, b"\n", 0, end)
        header_line = content[:header_end].decode()
        header = header_line.split("|") if end else []
        if header[:3] != ["H", "BIRCH", code] or len(header) != 5:
            raise UnreadableFile(f"first record is not a 'H|BIRCH|{code}|MM/DD/YYYY|<firm>' header")
        try:
            header_date = dt.datetime.strptime(header[3], DATE_FORMAT).date()
        except ValueError as error:
            raise UnreadableFile(f"header date {header[3]!r} is not MM/DD/YYYY") from error
        last_line = content.count(b"\n", 0, end) + 1
        trailer_start = _first_trailer_start(content, end)
        if trailer_start is None:
            block_end, trailer, trailer_line = end, None, last_line + 1
        else:
            block_end = trailer_start - 1
            trailer = content[trailer_start : _find(content, b"\n", trailer_start, end)].decode()
            trailer_line = content.count(b"\n", 0, trailer_start) + 1
        block = memoryview(content)[header_end + 1 : max(block_end, header_end + 1)]
        envelope = Envelope(
            header_date=header_date,
            last_line=last_line,
            trailer=trailer,
            lines_after_trailer=0 if trailer is None else last_line - trailer_line,
            computed_checksum=trailer_checksum(block),
        )
        return (str(block, "utf-8") if trailer_line > 2 else None), envelope

    def file_facts(self, envelope: object, details: int) -> dict:
        assert isinstance(envelope, Envelope)
        return {
            "file_findings": envelope.integrity_findings(details),
            "declared_date": envelope.header_date,
            "trailer_rows": envelope.trailer_rows,
            "trailer_checksum": envelope.trailer_checksum,
            "computed_checksum": envelope.computed_checksum,
        }

    def number(self, value: pl.Expr, column: str) -> tuple[pl.Expr, pl.Expr]:
        """Thousands separators must group by three; a quantity is unsigned with its
        sign in QTY_SIGN."""
        parsed = value.str.replace_all(",", "", literal=True).cast(pl.Float64, strict=False)
        valid = value.str.contains(GROUPED_NUMBER).fill_null(False)
        if column == "quantity":
            sign = pl.col("QTY_SIGN")
            valid = valid & sign.is_in(["+", "-"]).fill_null(False) & ~value.str.starts_with("-")
            parsed = pl.when(sign == "-").then(-parsed).otherwise(parsed)
        return parsed, valid

    def decoded(self, value: pl.Expr, column: str) -> pl.Expr | None:
        if column in ("symbol", "new_symbol"):
            return value.str.replace_all("/", ".", literal=True)
        if column in ("type", "action"):
            codes = TRANSACTION_CODES if column == "type" else ACTION_CODES
            return value.replace({v: k for k, v in codes.items()})
        return None

    def raw_lines(self, text: str) -> pl.DataFrame:
        return self.split_records([text.removesuffix("\n")], first_line=1).drop("_file")

    def detail_rows(self, content: bytes, kind: str) -> int:
        return content.count(b"\nD|") + content.startswith(b"D|")


def _find(content: bytes, sub: bytes, start: int, end: int) -> int:
    """Where ``sub`` first stands in ``content[start:end]``; ``end`` when it does not."""
    found = content.find(sub, start, end)
    return end if found < 0 else found


def _first_trailer_start(content: bytes, end: int) -> int | None:
    """Where the first record of type ``T`` (a line ``T`` or ``T|...``) after the header
    begins in ``content[:end]``; None when there is none."""
    start = content.find(b"\nT", 0, end)
    while start >= 0 and content[start + 2 : min(start + 3, end)] not in (b"|", b"\n", b""):
        start = content.find(b"\nT", start + 2, end)
    return start + 1 if start >= 0 else None
