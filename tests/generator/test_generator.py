"""The synthetic book: determinism, healthy data that is really healthy, and each fault."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path

import builtin_custodians as f
import polars as pl
import pytest

from rebalance_pipeline.generator import (
    FAULT_KINDS,
    SAMPLE_DIR,
    GeneratorConfig,
    generate_book,
    sample_config,
)
from rebalance_pipeline.generator.market import SPLIT_SECURITY, SYMBOL_CHANGE
from rebalance_pipeline.ingest.custodians import adapter
from rebalance_pipeline.ingest.parse import parse_file

SMALL = dict(accounts=40, households=15, days=3, warmup_days=5, seed=7)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def parsed(root: Path, custodian: str, kind: str, day: dt.date):
    return parse_file(
        root / f.drop_path(custodian, kind, day), f.CUSTODIAN[custodian], kind, root=root
    )


@pytest.fixture(scope="module")
def clean_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return generate_book(GeneratorConfig(**SMALL, fault_rate=0.0), out)


def test_same_seed_same_bytes_and_other_seed_other_bytes(tmp_path):
    config = GeneratorConfig(**SMALL, fault_rate=0.3)
    first = tree_digest(generate_book(config, tmp_path / "a").root)
    again = tree_digest(generate_book(config, tmp_path / "b").root)
    other = tree_digest(generate_book(config.model_copy(update={"seed": 8}), tmp_path / "c").root)
    assert first == again
    assert first != other
    assert len(first) > 40


def test_sample_book_is_what_the_generator_makes(tmp_path):
    regenerated = tree_digest(generate_book(sample_config(), tmp_path / "sample").root)
    assert regenerated == tree_digest(SAMPLE_DIR)
    assert sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file()) < 10 * 2**20


def test_layout_calendar_and_arrivals(clean_book):
    root = clean_book.root
    # 5 warm-up + 3 drop sessions of XNYS ending 2026-03-16 (no weekend dates)
    assert clean_book.drop_days == [
        dt.date(2026, 3, 12),
        dt.date(2026, 3, 13),
        dt.date(2026, 3, 16),
    ]
    assert all(d.weekday() < 5 for d in clean_book.sessions)
    warmup_files = sorted(p.name for p in (root / "drops" / "2026-03-09").rglob("*") if p.is_file())
    assert warmup_files == ["PRICES.260309.dat", "prices_20260309.csv"]
    assert len(list((root / "drops" / "2026-03-16").rglob("*.*"))) == 12
    arrivals = pl.read_csv(root / "drops" / "arrivals.csv", try_parse_dates=True)
    assert arrivals.height == 5 * 2 + 3 * 12
    delay = pl.col("arrived_at").dt.replace_time_zone(None) - pl.col("file_date").cast(pl.Datetime)
    hours = arrivals.select(delay.dt.total_minutes() / 60).to_series()
    # healthy files arrive between 01:00 and 06:30 UTC of the next calendar day
    assert hours.min() >= 25 and hours.max() < 30.5


def test_clean_book_is_consistent(clean_book):
    """No fault by accident: positions = sum of lots, no jump, no stale, nothing malformed."""
    root = clean_book.root
    for day in clean_book.drop_days:
        for custodian in f.CUSTODIANS:
            files = {k: parsed(root, custodian, k, day) for k in adapter.KINDS}
            assert all(p.findings.is_empty() and p.status == "ok" for p in files.values())
            assert files["lots"].rows["quantity"].min() > 0
            lots = files["lots"].rows.group_by("account_id", "symbol").agg(pl.col("quantity").sum())
            joined = files["positions"].rows.join(lots, on=["account_id", "symbol"], how="full")
            assert (joined["quantity"] == joined["quantity_right"]).all()
            if custodian == "birch":
                assert files["lots"].trailer_checksum == files["lots"].computed_checksum
    closes = pl.concat(parsed(root, "alder", "prices", d).rows for d in clean_book.sessions).sort(
        "symbol", "price_date"
    )
    moves = closes.with_columns(
        change=pl.col("close") / pl.col("close").shift().over("symbol") - 1
    ).drop_nulls("change")
    split_symbol = "SEMI"
    big = moves.filter(pl.col("change").abs() > 0.25)
    assert big.select("symbol", "price_date").rows() == [(split_symbol, dt.date(2026, 3, 13))]
    assert moves.filter(pl.col("change") == 0).is_empty()


def generate_one(tmp_path: Path, kind: str):
    config = GeneratorConfig(**SMALL, fault_rate=1.0, fault_kinds=(kind,))
    book = generate_book(config, tmp_path)
    faults = book.faults
    assert faults.height >= 1 and set(faults["fault_kind"]) == {kind}
    return book, faults.row(0, named=True)


def lines_of(root: Path, fault: dict) -> list[str]:
    return (
        (root / "drops" / fault["file_date"].isoformat() / fault["custodian"] / fault["file_name"])
        .read_text()
        .split("\n")
    )


def custodian_accounts(book, custodian: str) -> list[str]:
    return sorted(book.accounts.filter(pl.col("custodian") == custodian)["account_id"])


@pytest.mark.parametrize("kind", ["missing_file", "late_file", "wrong_encoding", "truncated_file"])
def test_file_faults(tmp_path, kind):
    book, fault = generate_one(tmp_path, kind)
    root, custodian = book.root, fault["custodian"]
    path = root / "drops" / fault["file_date"].isoformat() / custodian / fault["file_name"]
    arrivals = pl.read_csv(root / "drops" / "arrivals.csv", try_parse_dates=True).filter(
        pl.col("file_name") == fault["file_name"]
    )
    scope = custodian_accounts(book, custodian)
    if kind == "missing_file":
        assert not path.exists() and arrivals.is_empty()
    elif kind == "late_file":
        cutoff = dt.datetime.combine(fault["file_date"] + dt.timedelta(days=1), dt.time(6, 30))
        assert arrivals["arrived_at"][0].replace(tzinfo=None) > cutoff
    elif kind == "wrong_encoding":
        content = path.read_bytes()
        assert content[:2] == b"\xff\xfe"
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")
    else:
        text = path.read_text()
        last = text.rstrip("\n").split("\n")[-1]
        if custodian == "birch":
            assert text.endswith("\n") and not last.startswith("T|")
        else:
            assert not text.endswith("\n")
        assert len(text.rstrip("\n").split("\n")) == fault["row"]
        last_account = last.removeprefix("D|").split("|" if custodian == "birch" else ",")[0]
        scope = [a for a in scope if a >= last_account]
    assert fault["account_ids"] == scope and len(scope) > 0


def test_missing_price(tmp_path):
    book, fault = generate_one(tmp_path, "missing_price")
    day = fault["file_date"]
    symbols = pl.read_csv(book.root / "firm" / "securities.csv").filter(
        pl.col("security_id") == fault["security_id"]
    )["symbol"]
    for custodian in f.CUSTODIANS:
        prices = parsed(book.root, custodian, "prices", day).rows
        assert prices.height == 39 and not prices["symbol"].is_in(symbols.to_list()).any()
    holders = pl.concat(parsed(book.root, c, "positions", day).rows for c in f.CUSTODIANS).filter(
        pl.col("symbol").is_in(symbols.to_list())
    )
    assert fault["account_ids"] == sorted(holders["account_id"].unique()) != []


@pytest.mark.parametrize("kind", ["stale_price", "price_jump"])
def test_price_path_faults(tmp_path, kind):
    book, fault = generate_one(tmp_path, kind)
    symbol = pl.read_csv(book.root / "firm" / "securities.csv").filter(
        pl.col("security_id") == fault["security_id"]
    )["symbol"][0]
    day = book.sessions.index(fault["file_date"])
    closes = [
        parsed(book.root, "birch", "prices", d).rows.filter(pl.col("symbol") == symbol)["close"][0]
        for d in book.sessions[day - 3 : day + 1]
    ]
    if kind == "stale_price":
        assert closes[1] == closes[2] == closes[3] != closes[0]
    else:
        # a natural daily move (well under 5% here) on top of the injected 40% jump
        assert closes[3] / closes[2] == pytest.approx(1.4, rel=0.05)
        assert closes[3] / closes[2] > 1.25
        assert all(abs(b / a - 1) < 0.25 for a, b in itertools.pairwise(closes[:3]))
    holders = parsed(book.root, "alder", "positions", fault["file_date"]).rows.vstack(
        parsed(book.root, "birch", "positions", fault["file_date"]).rows
    )
    expected = sorted(holders.filter(pl.col("symbol") == symbol)["account_id"].unique())
    assert fault["account_ids"] == expected != []


ROW_FAULTS = [
    "duplicate_rows",
    "unknown_security",
    "reconciliation_break",
    "negative_quantity",
    "malformed_number",
    "malformed_date",
    "split_not_applied",
    "symbol_change_not_applied",
]


@pytest.mark.parametrize("kind", ROW_FAULTS)
def test_row_faults(tmp_path, kind):
    book, fault = generate_one(tmp_path, kind)
    root, custodian, day = book.root, fault["custodian"], fault["file_date"]
    (account,) = fault["account_ids"]
    lines = lines_of(root, fault)
    line = lines[fault["row"] - 1]
    assert account in line
    lots = parsed(root, custodian, "lots", day)
    positions = parsed(root, custodian, "positions", day)
    mine = lots.rows.filter(pl.col("account_id") == account)
    held = positions.rows.filter(pl.col("account_id") == account)
    by_symbol = (
        mine.group_by("symbol")
        .agg(pl.col("quantity").sum())
        .join(held, on="symbol", how="full", suffix="_position")
    )
    broken = by_symbol.filter(pl.col("quantity") != pl.col("quantity_position"))
    if kind == "duplicate_rows":
        assert lines[fault["row"] - 2] == line
    elif kind == "unknown_security":
        master = set(pl.read_csv(root / "firm" / "securities.csv")["symbol"])
        symbol = line.split(",")[1] if custodian == "alder" else line.split("|")[2]
        assert symbol not in master and symbol in set(mine["symbol"])
    elif kind == "reconciliation_break":
        assert broken.height == 1
        gap = broken["quantity_position"][0] - broken["quantity"][0]
        assert gap % 1 == 0.5
    elif kind == "negative_quantity":
        assert lots.rows.filter(pl.col("source_row") == fault["row"])["quantity"][0] < 0
        assert broken.is_empty()
    elif kind in ("malformed_number", "malformed_date"):
        (finding,) = lots.findings.iter_rows(named=True)
        assert (finding["check"], finding["source_row"], finding["account_ids"]) == (
            kind,
            fault["row"],
            [account],
        )
    elif kind == "split_not_applied":
        assert broken["quantity_position"][0] == SPLIT_SECURITY[1] * broken["quantity"][0]
        assert fault["security_id"] == SPLIT_SECURITY[0]
    else:
        assert set(held["symbol"]) & {SYMBOL_CHANGE[1]} and not set(held["symbol"]) & {
            SYMBOL_CHANGE[2]
        }
        faulted = book.faults["account_ids"].explode()
        old_symbol = positions.rows.filter(pl.col("symbol") == SYMBOL_CHANGE[1])
        assert sorted(old_symbol["account_id"]) == sorted(faulted)


def test_unresolvable_restriction(tmp_path):
    book, fault = generate_one(tmp_path, "unresolvable_restriction")
    lines = (book.root / fault["file_name"]).read_text().split("\n")
    row = dict(zip(lines[0].split(","), lines[fault["row"] - 1].split(","), strict=True))
    assert row["effective_from"] == row["effective_to"] == fault["file_date"].isoformat()
    master = pl.read_csv(book.root / "firm" / "securities.csv")
    assert row["security_id"] or row["sector"]
    assert row["security_id"] not in set(master["security_id"])
    assert row["sector"] not in set(master["sector"])
    holder = (pl.col("account_id") == row["account_id"]) | (
        pl.col("household_id") == row["household_id"]
    )
    assert fault["account_ids"] == sorted(book.accounts.filter(holder)["account_id"]) != []


def test_firm_faults_leave_the_custodian_files_as_they_are(tmp_path):
    def digest(kinds: tuple[str, ...], out: str) -> dict[str, str]:
        config = GeneratorConfig(**SMALL, fault_rate=1.0, fault_kinds=kinds)
        return tree_digest(generate_book(config, tmp_path / out).root)

    without = digest(("missing_price",), "without")
    with_firm_faults = digest(("missing_price", "unresolvable_restriction"), "with")
    changed = {path for path, sha in with_firm_faults.items() if without.get(path) != sha}
    assert changed == {"firm/restrictions.csv", "ground_truth/faults.csv"}


def test_birch_never_sends_a_sells_gain_and_alder_and_cedar_always_do():
    """As with many real custodians, a birch sell's gain must be derived (from the lot
    sold), so the sample book exercises the derivation."""
    days = [d.name for d in (SAMPLE_DIR / "drops").iterdir() if (d / "cedar").is_dir()]
    for custodian in f.CUSTODIAN:
        sells = pl.concat(
            parsed(SAMPLE_DIR, custodian, "transactions", dt.date.fromisoformat(day)).rows
            for day in days
        ).filter(pl.col("type") == "sell")
        assert sells.height >= 3, custodian
        assert sells["lot_id"].null_count() == 0
        gains = sells["realized_gain"]
        assert gains.null_count() == (sells.height if custodian == "birch" else 0), custodian


def test_every_kind_is_switchable_and_enabled_by_default():
    assert GeneratorConfig().fault_kinds == FAULT_KINDS
    with pytest.raises(ValueError, match="unknown fault kinds"):
        GeneratorConfig(fault_kinds=("gremlins",))
    with pytest.raises(ValueError, match="households"):
        GeneratorConfig(accounts=10, households=2)


def test_refuses_to_write_over_an_existing_book(clean_book):
    with pytest.raises(FileExistsError, match="already holds a book"):
        generate_book(GeneratorConfig(**SMALL), clean_book.root)


def test_progress_is_reported_per_drop_day(tmp_path):
    seen = []
    book = generate_book(
        GeneratorConfig(**SMALL, fault_rate=0.0),
        tmp_path,
        progress=lambda i, n: seen.append((i, n)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert book.summary() == "40 accounts, 3 days of drops (2026-03-12 to 2026-03-16), 0 faults"
