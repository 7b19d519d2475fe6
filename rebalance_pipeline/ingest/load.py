"""``load_book``: firm files and custodian drops of one date -> the canonical ``Book``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from rebalance_pipeline import tables as t
from rebalance_pipeline.book import Book
from rebalance_pipeline.calendar import previous_business_days
from rebalance_pipeline.ingest.custodians import Custodian, book_custodians
from rebalance_pipeline.ingest.custodians.adapter import KIND_SCHEMAS, KINDS
from rebalance_pipeline.ingest.drop_files import is_drop_file
from rebalance_pipeline.ingest.firm import firm_tables, security_master_history, symbol_maps
from rebalance_pipeline.ingest.parse import (
    ParsedFile,
    file_finding,
    parse_file,
    parse_files,
    parse_rows,
)
from rebalance_pipeline.storage import file_sha256

WASH_SALE_DAYS = 30  # transactions history a date needs to judge wash-sale windows
HISTORY_KINDS = ("prices", "transactions")
ROW_HISTORY_KINDS = ("positions", "lots", "cash")  # one row per holding: steady day to day
ROW_HISTORY_DAYS = 5
PARSE_THREADS = 4
ACCOUNTS_FILE = "firm/accounts.csv"


def load_book(root: Path, as_of: dt.date, lookback_business_days: int = 60) -> Book:
    """The canonical book of ``as_of`` from the book directory ``root``.

    Today's six files of every custodian are parsed in full; the prices and transactions
    files of the ``lookback_business_days`` sessions before give ``price_history`` and
    the earlier ``transactions``. A transactions file absent from the last 30 days (since
    the book's first drop) is a ``missing_history`` finding: a gap in history must never
    silently mean "no wash-sale window". ``sold_lots`` keeps the lots that recent sells
    without a gain name from the lots files of the days before those sales, only those
    files and only those lots (see ``_lots_of_sells_without_gain``).
    """
    custodians = book_custodians(root)
    today_files = [
        (root / c.drop_path(k, as_of), c, k) for c in custodians for k in c.adapter.kinds
    ]
    history_files = [
        (path, c, k)
        for day in previous_business_days(as_of, lookback_business_days)
        for c in custodians
        for k in HISTORY_KINDS
        if k in c.adapter.kinds and (path := root / c.drop_path(k, day)).is_file()
    ]
    # Polars releases the GIL while it reads, so files overlap well in threads
    with ThreadPoolExecutor(max_workers=PARSE_THREADS) as pool:
        parsing = _parse_in_batches(pool, today_files + history_files, len(today_files), root)
        firm = firm_tables(root, as_of)  # while the drop files are parsed
        master = security_master_history(root)
        parsed = parsing()
        today, history = parsed[: len(today_files)], parsed[len(today_files) :]
        wanted = _lots_of_sells_without_gain(today, history, as_of)
        sold = list(
            pool.map(
                lambda job: _wanted_lots(*job, wanted, root),
                _lots_files_before_sales(root, custodians, wanted),
            )
        )
    recent = _recent_files(root, custodians, as_of)
    dates = [p.file_date for p in today + history if p.file_date] + [day for day, _ in sold]
    maps = symbol_maps(master, dates)
    tables = {kind: _rows(today, kind, maps) for kind in KINDS}
    return Book.from_frames(
        as_of,
        **firm,
        prices=tables["prices"],
        price_history=_rows(history, "prices", maps),
        positions=tables["positions"],
        lots=tables["lots"],
        transactions=pl.concat([_rows(history, "transactions", maps), tables["transactions"]]),
        sold_lots=_sold_lots(sold, maps),
        cash_balances=tables["cash"],
        corporate_actions=tables["corporate_actions"],
        source_files=_source_files(root, today)
        .drop("history_median_rows")
        .join(_row_history(recent), on=["custodian", "kind"], how="left")
        .select(t.SOURCE_FILES.names()),
        parse_findings=_scoped_findings(
            [
                *(p.findings for p in today),
                *_resent_files(root, today, recent),
                *_missing_history(root, custodians, as_of),
                *_untrusted_history(history, as_of),
                *_unlisted_custodians(firm["accounts"], custodians, as_of),
            ],
            firm["accounts"],
        ),
    )


def _parse_in_batches(
    pool: ThreadPoolExecutor, jobs: list[tuple[Path, Custodian, str]], singles: int, root: Path
) -> Callable[[], list[ParsedFile]]:
    """Start parsing the (path, custodian, kind) ``jobs`` on ``pool``: the first
    ``singles`` a file at a time (today's large files), the others a batch per custodian
    and kind (a history of small files). Returns the wait for the parsed files, in the
    order of ``jobs``."""
    groups: dict[tuple[str, str], list[tuple[Path, Custodian, str]]] = {}
    for job in jobs[singles:]:  # by name: an adapter need not be hashable
        groups.setdefault((job[1].name, job[2]), []).append(job)
    batches = [[job] for job in jobs[:singles]] + list(groups.values())
    futures = [
        pool.submit(parse_files, [path for path, _, _ in batch], *batch[0][1:], root=root)
        for batch in batches
    ]

    def parsed() -> list[ParsedFile]:
        by_file = {  # a file may hold several kinds
            (job[0], job[2]): file
            for batch, future in zip(batches, futures, strict=True)
            for job, file in zip(batch, future.result(), strict=True)
        }
        return [by_file[path, kind] for path, _, kind in jobs]

    return parsed


def _rows(files: list[ParsedFile], kind: str, maps: pl.DataFrame) -> pl.DataFrame:
    """The kind's rows of ``files`` in file order, symbols mapped as of each file's date."""
    return _mapped([(p.file_date, p.rows) for p in files if p.kind == kind], kind, maps)


def _mapped(
    dated_rows: list[tuple[dt.date | None, pl.DataFrame]], kind: str, maps: pl.DataFrame
) -> pl.DataFrame:
    """The kind's rows of each (file date, rows) in order, symbols mapped as of the date.

    Corporate actions map through every symbol a security has had, as the old symbol of
    a symbol change is no longer in force on its effective date.
    """
    frames = [rows.with_columns(file_date=pl.lit(day, pl.Date)) for day, rows in dated_rows]
    if not frames:
        return t.empty(KIND_SCHEMAS[kind])
    rows = pl.concat(frames)
    if "symbol" not in rows.columns:
        return rows.drop("file_date")
    known = maps.filter(pl.col("kind") == ("ever" if kind == "corporate_actions" else "in_force"))
    mapped = rows.drop("security_id").join(
        known.drop("kind"), on=["file_date", "symbol"], how="left", maintain_order="left"
    )
    return mapped.select(KIND_SCHEMAS[kind].names())


def _lots_of_sells_without_gain(
    today: list[ParsedFile], history: list[ParsedFile], as_of: dt.date
) -> pl.DataFrame:
    """(custodian, account_id, lot_id, file_date) of the lots whose basis is the only
    source of a recent sell's gain: a sell of the wash-sale window without a delivered
    gain or cost basis, whose lot today's lots file no longer lists (a partly sold lot
    keeps its per-share basis there). ``file_date`` is the business day before the sale,
    whose lots file still lists the lot."""
    since = as_of - dt.timedelta(days=WASH_SALE_DAYS)
    today_lots = _parsed_rows(today, "lots").select("account_id", "lot_id")
    sells = (
        _parsed_rows(today + history, "transactions")
        .filter(
            (pl.col("type") == "sell")
            & pl.col("realized_gain").is_null()
            & pl.col("cost_basis").is_null()
            & pl.col("lot_id").is_not_null()
            & pl.col("trade_date").is_between(since, as_of)
        )
        .join(today_lots, on=["account_id", "lot_id"], how="anti")
        .select("custodian", "account_id", "lot_id", "trade_date")
        .unique()
    )
    days_before = {d: previous_business_days(d, 1)[0] for d in sells["trade_date"].unique()}
    return sells.select(
        "custodian",
        "account_id",
        "lot_id",
        pl.col("trade_date").replace_strict(days_before, return_dtype=pl.Date).alias("file_date"),
    ).unique()


def _parsed_rows(files: list[ParsedFile], kind: str) -> pl.DataFrame:
    """The kind's rows of ``files`` as parsed (symbols not mapped yet)."""
    frames = [p.rows for p in files if p.kind == kind]
    return pl.concat(frames) if frames else t.empty(KIND_SCHEMAS[kind])


def _lots_files_before_sales(
    root: Path, custodians: tuple[Custodian, ...], wanted: pl.DataFrame
) -> list[tuple[Path, Custodian, dt.date]]:
    """(path, custodian, day) of the lots files of the days before the sales (only those
    that were delivered)."""
    files = wanted.select("custodian", "file_date").unique().sort("file_date", "custodian")
    by_name = {c.name: c for c in custodians}
    return [
        (path, by_name[name], day)
        for name, day in files.iter_rows()
        if (path := root / by_name[name].drop_path("lots", day)).is_file()
    ]


def _wanted_lots(
    path: Path, custodian: Custodian, day: dt.date, wanted: pl.DataFrame, root: Path
) -> tuple[dt.date, pl.DataFrame]:
    """(day, rows) of a lots file with only the wanted lots of its custodian and date:
    a large book's whole lots file is not typed nor held for a few rows."""
    keys = wanted.filter(
        (pl.col("custodian") == custodian.name) & (pl.col("file_date") == day)
    ).select("account_id", "lot_id")
    return day, parse_rows(path, custodian, "lots", keys, root=root)


def _sold_lots(files: list[tuple[dt.date, pl.DataFrame]], maps: pl.DataFrame) -> pl.DataFrame:
    """The wanted lots of the earlier lots files, each with its file's date."""
    frames = [
        _mapped([(day, rows)], "lots", maps).with_columns(file_date=pl.lit(day, pl.Date))
        for day, rows in files
    ]
    return t.conform(pl.concat(frames), t.SOLD_LOTS) if frames else t.empty(t.SOLD_LOTS)


def _source_files(root: Path, files: list[ParsedFile]) -> pl.DataFrame:
    arrivals = _arrivals(root)
    records = pl.DataFrame(
        [p.source_file_record(None) for p in files], schema=t.SOURCE_FILES
    ).with_columns(file_name=pl.col("source_file").str.split("/").list.last())
    return t.conform(
        records.drop("arrived_at").join(
            arrivals, on=["custodian", "file_date", "file_name"], how="left", maintain_order="left"
        ),
        t.SOURCE_FILES,
    )


def _recent_files(root: Path, custodians: tuple[Custodian, ...], as_of: dt.date) -> pl.DataFrame:
    """(custodian, kind, file_date, source_file, rows, size) of the drop files of the
    ``ROW_HISTORY_DAYS`` business days before ``as_of``; rows are counted by the
    adapter from the bytes (no parsing: history is only a yardstick for today's count)."""
    records = []
    for day in previous_business_days(as_of, ROW_HISTORY_DAYS):
        for custodian in custodians:
            for kind in custodian.adapter.kinds:
                source_file = custodian.drop_path(kind, day)
                if is_drop_file(path := root / source_file, root):
                    content = path.read_bytes()
                    rows = custodian.adapter.detail_rows(content, kind)
                    records.append((custodian.name, kind, day, source_file, rows, len(content)))
    schema = {
        "custodian": pl.String,
        "kind": pl.String,
        "file_date": pl.Date,
        "source_file": pl.String,
        "rows": pl.Int64,
        "size": pl.Int64,
    }
    return pl.DataFrame(records, schema=schema, orient="row")


def _row_history(recent: pl.DataFrame) -> pl.DataFrame:
    """Median detail rows per custodian and kind over the recent business days' files."""
    return (
        recent.filter(pl.col("kind").is_in(ROW_HISTORY_KINDS))
        .group_by("custodian", "kind")
        .agg(pl.col("rows").median().round().cast(pl.Int64).alias("history_median_rows"))
    )


def _resent_files(root: Path, today: list[ParsedFile], recent: pl.DataFrame) -> list[pl.DataFrame]:
    """stale_file for a file of today byte-identical to a recent file of the same
    custodian and kind, where the same bytes cannot be today's data: its rows are dated
    (prices, transactions), or the custodian's transactions of today changed what it
    lists (``MOVED_BY``). An empty file, a corporate-actions file (custodians restate
    announced actions day after day) and an account file on a day nothing moved it may
    well repeat. A file already stale by its own dates is not reported twice. Only the
    recent files of today's file's size are hashed: other sizes cannot be the same bytes."""
    transactions = _parsed_rows(today, "transactions")
    found = []
    for parsed in today:
        stale = parsed.findings.filter(pl.col("check") == "stale_file")
        if parsed.sha256 is None or parsed.rows.is_empty() or not stale.is_empty():
            continue
        same_size = recent.filter(
            (pl.col("custodian") == parsed.custodian)
            & (pl.col("kind") == parsed.kind)
            & (pl.col("size") == parsed.size)
        ).sort("file_date")
        earlier = [
            source_file
            for source_file in same_size["source_file"]
            if file_sha256(root / source_file) == parsed.sha256
        ]
        if not earlier or not _changed_since(parsed, transactions):
            continue
        message = f"{parsed.source_file} is a stale file: byte-identical to {earlier[-1]}"
        found.append(parsed.file_finding("stale_file", message))
    return found


DATED_KINDS = ("prices", "transactions")  # rows carry their date: no two days alike
MOVED_BY = {  # account file kind -> the transaction types that change what it lists
    "positions": ("buy", "sell"),
    "lots": ("buy", "sell"),
    "cash": t.TRANSACTION_TYPES,
}


def _changed_since(parsed: ParsedFile, transactions: pl.DataFrame) -> bool:
    """Whether today's file of ``parsed``'s kind must differ from any earlier day's."""
    if parsed.kind in DATED_KINDS:
        return True
    if parsed.kind not in MOVED_BY:
        return False
    moved = transactions.filter(
        (pl.col("custodian") == parsed.custodian) & pl.col("type").is_in(MOVED_BY[parsed.kind])
    )
    return not moved.is_empty()


def _arrivals(root: Path) -> pl.DataFrame:
    """The transfer server's arrival log (empty when there is none)."""
    schema = {
        "custodian": pl.String,
        "file_date": pl.Date,
        "file_name": pl.String,
        "arrived_at": pl.Datetime("us", "UTC"),
    }
    path = root / "drops" / "arrivals.csv"
    if not path.is_file():
        return pl.DataFrame(schema=schema)
    log = pl.read_csv(path, infer_schema=False)
    return log.select(
        "custodian",
        pl.col("file_date").str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        "file_name",
        pl.col("arrived_at").str.to_datetime(time_unit="us", time_zone="UTC", strict=False),
    ).unique(["custodian", "file_date", "file_name"], keep="last", maintain_order=True)


def _missing_history(
    root: Path, custodians: tuple[Custodian, ...], as_of: dt.date
) -> list[pl.DataFrame]:
    """Findings for the transactions files of the wash-sale window that are not there
    (days before a custodian's first transactions file are before its feed began)."""
    drop_days = sorted(
        dt.date.fromisoformat(p.name) for p in (root / "drops").glob("????-??-??") if p.is_dir()
    )
    since = as_of - dt.timedelta(days=WASH_SALE_DAYS)
    window = [d for d in previous_business_days(as_of, WASH_SALE_DAYS) if d >= since]
    findings = []
    for custodian in (c for c in custodians if "transactions" in c.adapter.kinds):
        files = {d: root / custodian.drop_path("transactions", d) for d in {*drop_days, *window}}
        fed = [d for d in drop_days if files[d].is_file()]
        absent = [d for d in window if fed and d >= fed[0] and not files[d].is_file()]
        findings += [
            parse_file(files[d], custodian, "transactions", root=root).findings for d in absent
        ]
    message = pl.format(
        "{} was not delivered: wash-sale windows of the last {} days cannot be judged",
        pl.col("source_file"),
        pl.lit(WASH_SALE_DAYS),
    )
    return [
        frame.with_columns(pl.lit("missing_history").alias("check"), message.alias("message"))
        for frame in findings
    ]


def _untrusted_history(history: list[ParsedFile], as_of: dt.date) -> list[pl.DataFrame]:
    """missing_history for the transactions files of the wash-sale window that were
    delivered but cannot be trusted whole (unreadable, foreign, cut short, stale, ...: a
    file-level finding): the transactions they hold may not be that day's, or not all of
    them."""
    since = as_of - dt.timedelta(days=WASH_SALE_DAYS)
    message = pl.format(
        "{} cannot be trusted ({}): wash-sale windows of the last {} days cannot be judged",
        pl.col("source_file"),
        pl.col("check"),
        pl.lit(WASH_SALE_DAYS),
    )
    return [
        whole_file.with_columns(message.alias("message"), pl.lit("missing_history").alias("check"))
        for parsed in history
        if parsed.kind == "transactions" and parsed.file_date and parsed.file_date >= since
        if not (whole_file := parsed.findings.filter(pl.col("source_row").is_null())).is_empty()
    ]


def _unlisted_custodians(
    accounts: pl.DataFrame, custodians: tuple[Custodian, ...], as_of: dt.date
) -> list[pl.DataFrame]:
    """unknown_custodian for the accounts of a custodian the book does not list: none of
    its files is read, and an account read as holding nothing must not trade."""
    listed = [c.name for c in custodians]
    unlisted = accounts.filter(~pl.col("custodian").is_in(listed)).group_by(
        "custodian", maintain_order=True
    )
    findings = []
    for (name,), part in unlisted:
        base = {"custodian": name, "kind": None, "file_date": as_of, "source_file": ACCOUNTS_FILE}
        message = (
            f"{part.height} account(s) at custodian {name!r}, which the book's custodians "
            f"({', '.join(listed)}) do not include: none of its files is read"
        )
        findings.append(file_finding(base, "unknown_custodian", message))
    return findings


def _scoped_findings(findings: list[pl.DataFrame], accounts: pl.DataFrame) -> pl.DataFrame:
    """Findings of the date's files; a file-level one (no row: the file is missing,
    foreign, unreadable, incomplete or stale) touches every account of its custodian. A
    file read for several kinds gives each of its file-level findings once."""
    findings = pl.concat(findings).unique("finding_id", keep="first", maintain_order=True)
    by_custodian = accounts.group_by("custodian").agg(
        custodian_accounts=pl.col("account_id").sort()
    )
    scoped = findings.join(by_custodian, on="custodian", how="left", maintain_order="left")
    return t.conform(
        scoped.with_columns(
            account_ids=pl.when(pl.col("source_row").is_null())
            .then(pl.col("custodian_accounts").fill_null([]))
            .otherwise(pl.col("account_ids"))
        ),
        t.FINDINGS,
    )
