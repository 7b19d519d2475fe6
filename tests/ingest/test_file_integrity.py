"""A custodian file is trusted as a whole or not at all: integrity, staleness, foreign files.

Each test breaks one file of a small generated book on disk and checks that the finding
names the fault and suspends exactly the accounts of that custodian file.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import builtin_custodians as f
import polars as pl
import pytest

from rebalance_pipeline.generator import GeneratorConfig, generate_book
from rebalance_pipeline.ingest import load_book
from rebalance_pipeline.ingest.custodians import adapter
from rebalance_pipeline.ingest.custodians import alder as alder_csv
from rebalance_pipeline.ingest.custodians import birch as birch_pipe
from rebalance_pipeline.ingest.raw import raw_file
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation import validate_book

DAY = dt.date(2026, 3, 16)
PREVIOUS_DAY = dt.date(2026, 3, 13)
CONFIG = GeneratorConfig(
    accounts=16, households=6, days=2, warmup_days=3, fault_rate=0, fault_kinds=(), end_date=DAY
)


@pytest.fixture(scope="module")
def clean_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "book"
    generate_book(CONFIG, root)
    return root


@pytest.fixture
def book(clean_book: Path, tmp_path: Path) -> Path:
    root = tmp_path / "book"
    shutil.copytree(clean_book, root, symlinks=True)
    return root


def drop_file(root: Path, custodian: str, kind: str, day: dt.date = DAY) -> Path:
    return root / f.drop_path(custodian, kind, day)


def custodian_accounts(root: Path, custodian: str) -> list[str]:
    accounts = pl.read_csv(root / "firm" / "accounts.csv")
    return sorted(accounts.filter(pl.col("custodian") == custodian)["account_id"])


def findings_of(root: Path, check: str) -> tuple[pl.DataFrame, set[str]]:
    """The date's findings of ``check`` and every suspended account."""
    result = validate_book(load_book(root, DAY, 5), Policy())
    suspended = result.account_status.filter(pl.col("status") == "suspended")
    return result.findings.filter(pl.col("check") == check), set(suspended["account_id"])


def assert_whole_file_untrusted(root: Path, check: str, custodian: str, words: str) -> None:
    found, suspended = findings_of(root, check)
    assert found.height == 1, f"expected one {check} finding"
    accounts = custodian_accounts(root, custodian)
    assert found["account_ids"][0].to_list() == accounts
    assert set(accounts) <= suspended
    message = found["message"][0]
    assert words in message and found["source_file"][0] in message


def edit_lines(path: Path, change) -> None:
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(change(lines)))


def alter_middle_value(lines: list[bytes]) -> list[bytes]:
    """The last digit of the middle record changed: count and shape stay right."""
    middle = len(lines) // 2
    lines[middle] = lines[middle][:-1] + (b"1" if lines[middle][-1:] != b"1" else b"2")
    return lines


# --------------------------------------------------------------------------------------
# Integrity: count, checksum, header and trailer shape, nothing after the trailer
# --------------------------------------------------------------------------------------
def test_a_value_altered_mid_file_suspends_every_account_of_the_file(book: Path) -> None:
    """Only the checksum tells: the record count still agrees with the trailer."""

    edit_lines(drop_file(book, "birch", "cash"), alter_middle_value)
    assert_whole_file_untrusted(book, "checksum_mismatch", "birch", "checksum mismatch")


@pytest.mark.parametrize("junk", [b"\n", b"# resent by operations\n"], ids=["blank", "comment"])
def test_a_line_after_the_trailer_makes_the_file_untrusted(book: Path, junk: bytes) -> None:
    path = drop_file(book, "birch", "positions")
    path.write_bytes(path.read_bytes() + junk)
    assert_whole_file_untrusted(book, "content_after_trailer", "birch", "after its trailer")


def test_a_birch_file_without_its_trailer_suspends_every_account(book: Path) -> None:
    edit_lines(drop_file(book, "birch", "lots"), lambda lines: [*lines[:-3], b""])
    assert_whole_file_untrusted(book, "truncated_file", "birch", "no trailer")


def test_a_trailer_of_the_wrong_shape_makes_the_file_untrusted(book: Path) -> None:
    edit_lines(drop_file(book, "birch", "cash"), lambda lines: [*lines[:-2], b"T|many", b""])
    assert_whole_file_untrusted(book, "malformed_trailer", "birch", "trailer")


@pytest.mark.parametrize("custodian", f.CUSTODIANS)
def test_crlf_line_ends_and_a_utf8_bom_are_transport_artefacts(
    clean_book: Path, book: Path, custodian: str
) -> None:
    """Stripped before the checksum, as the custodian computed it: same rows, no finding."""
    for kind in adapter.KINDS:
        path = drop_file(book, custodian, kind)
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    transported, clean = load_book(book, DAY, 5), load_book(clean_book, DAY, 5)
    assert transported.parse_findings.is_empty()
    for table in ("positions", "lots", "cash_balances", "transactions", "prices"):
        assert getattr(transported, table).equals(getattr(clean, table)), table
    checks = set(validate_book(transported, Policy()).findings["check"])
    assert checks == set(validate_book(clean, Policy()).findings["check"])


# --------------------------------------------------------------------------------------
# Rows whose field count differs from the header: never cut to fit
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("custodian", "ragged"),
    [
        ("alder", b"%s,1,001,403.67"),  # an unquoted thousands separator
        ("alder", b"%s"),  # a field short
        ("birch", b"D|%s|1,001,403.67|USD"),
        ("birch", b"D|%s"),
    ],
    ids=["alder-extra", "alder-short", "birch-extra", "birch-short"],
)
def test_a_row_of_the_wrong_width_is_a_malformed_row_of_its_account(
    book: Path, custodian: str, ragged: bytes
) -> None:
    path = drop_file(book, custodian, "cash")
    lines = path.read_bytes().split(b"\n")
    account = lines[1].removeprefix(b"D|").split(b"|")[0].split(b",")[0]
    lines[1] = ragged % account
    if custodian == "birch":  # a custodian that counted and summed the row it sent
        details = lines[1:-2]
        lines[-2] = b"T|%d|%s" % (
            len(details),
            birch_pipe.trailer_checksum(b"\n".join(details)).encode(),
        )
    path.write_bytes(b"\n".join(lines))
    loaded = load_book(book, DAY, 5)
    row = loaded.cash_balances.filter(pl.col("source_file") == f.drop_path(custodian, "cash", DAY))
    assert (row["source_row"][0], row["account_id"][0]) == (2, account.decode())
    assert row["cash"][0] is None, "a value of a ragged row was read anyway"
    found, suspended = findings_of(book, "malformed_row")
    assert found["account_ids"].to_list() == [[account.decode()]]
    assert account.decode() in suspended
    assert found["source_row"].to_list() == [2] and "fields" in found["message"][0]


# --------------------------------------------------------------------------------------
# Stale files: the file's own dates and byte-identical re-sends
# --------------------------------------------------------------------------------------
def test_a_birch_header_of_the_previous_business_day_is_a_stale_file(book: Path) -> None:
    path = drop_file(book, "birch", "positions")
    today, before = f"{DAY:%m/%d/%Y}".encode(), f"{PREVIOUS_DAY:%m/%d/%Y}".encode()
    path.write_bytes(path.read_bytes().replace(today, before, 1))
    assert_whole_file_untrusted(book, "stale_file", "birch", "stale file")


def without_first_price(root: Path, custodian: str) -> str:
    """Remove the first close of the custodian's prices file (a birch file keeps a true
    trailer); returns the symbol it priced."""
    path = drop_file(root, custodian, "prices")
    lines = path.read_bytes().decode().split("\n")[:-1]
    removed = lines.pop(1)
    if custodian == "birch":
        details = lines[1:-1]
        checksum = birch_pipe.trailer_checksum("\n".join(details).encode())
        lines[-1] = f"T|{len(details)}|{checksum}"
    path.write_text("\n".join(lines) + "\n")
    if custodian == "birch":
        return removed.split("|")[1].replace("/", ".")
    return removed.split(",")[0]


def assert_prices_untrusted(root: Path, check: str, custodian: str, words: str) -> None:
    """An untrusted prices file's closes are never used: a security it alone prices is
    blocked book-wide and its holders suspended, as for any price finding; one the other
    custodian prices is not blocked; the file's own finding suspends its custodian's
    accounts."""
    other = "birch" if custodian == "alder" else "alder"
    symbol = without_first_price(root, other)
    found, suspended = findings_of(root, check)
    book = load_book(root, DAY, 5)
    alone = book.prices.filter(pl.col("symbol") == symbol)["security_id"].unique().to_list()
    per_security = found.filter(pl.col("security_id").is_not_null())
    assert per_security["security_id"].to_list() == alone
    assert per_security["blocks_security"].all() and found["source_row"].is_null().all()
    holders = set(per_security["account_ids"].explode().drop_nulls())
    assert holders and holders <= suspended
    (whole_file,) = found.filter(pl.col("security_id").is_null()).iter_rows(named=True)
    assert whole_file["account_ids"] == custodian_accounts(root, custodian)
    assert set(custodian_accounts(root, custodian)) <= suspended
    assert words in whole_file["message"] and whole_file["source_file"] in whole_file["message"]


def test_a_prices_file_of_an_earlier_date_is_a_stale_file(book: Path) -> None:
    path = drop_file(book, "alder", "prices")
    path.write_bytes(path.read_bytes().replace(DAY.isoformat().encode(), b"2026-03-13"))
    assert_prices_untrusted(book, "stale_file", "alder", "stale file")
    price_dates, _ = findings_of(book, "contract_violation")
    assert price_dates.is_empty(), "the stale file's rows are reported again"


def test_a_prices_file_failing_its_checksum_blocks_every_security_it_lists(book: Path) -> None:
    """Its closes are today's and would value every custodian's accounts."""

    edit_lines(drop_file(book, "birch", "prices"), alter_middle_value)
    assert_prices_untrusted(book, "checksum_mismatch", "birch", "checksum mismatch")


def test_a_resent_previous_day_is_a_stale_file(book: Path) -> None:
    """alder's cash file carries no date: the same bytes on a day with a transaction that
    moves cash cannot be today's balances."""
    cash = drop_file(book, "alder", "cash")
    shutil.copyfile(drop_file(book, "alder", "cash", PREVIOUS_DAY), cash)
    account = cash.read_bytes().split(b"\n")[1].split(b",")[0]
    with drop_file(book, "alder", "transactions").open("ab") as transactions:
        transactions.write(b"T-DEPOSIT,%s,2026-03-16,deposit,,,,100.00,,\n" % account)
    assert_whole_file_untrusted(book, "stale_file", "alder", "identical")


def test_a_file_of_the_previous_day_size_with_other_bytes_is_not_stale(book: Path) -> None:
    cash = drop_file(book, "alder", "cash")
    before = drop_file(book, "alder", "cash", PREVIOUS_DAY).read_bytes()
    last_digit = max(before.rfind(digit) for digit in b"0123456789")
    changed = b"1" if before[last_digit : last_digit + 1] != b"1" else b"2"
    cash.write_bytes(before[:last_digit] + changed + before[last_digit + 1 :])
    with drop_file(book, "alder", "transactions").open("ab") as transactions:
        transactions.write(b"T-DEPOSIT,A1,2026-03-16,deposit,,,,100.00,,\n")
    found, _ = findings_of(book, "stale_file")
    assert found.is_empty()


def test_files_that_are_legitimately_the_same_every_day_are_not_stale(book: Path) -> None:
    """An empty corporate-actions file; an account file on a day nothing moved it."""
    header = ",".join(alder_csv.COLUMNS["corporate_actions"]).encode() + b"\n"
    for day in (PREVIOUS_DAY, DAY):
        drop_file(book, "alder", "corporate_actions", day).write_bytes(header)
    transactions = drop_file(book, "alder", "transactions")
    transactions.write_bytes(transactions.read_bytes().split(b"\n")[0] + b"\n")
    shutil.copyfile(
        drop_file(book, "alder", "positions", PREVIOUS_DAY), drop_file(book, "alder", "positions")
    )
    found, _ = findings_of(book, "stale_file")
    assert found.is_empty()


# --------------------------------------------------------------------------------------
# Drop files are regular files inside the book's drop folder; anything else is not read
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("replacement", ["symlink_outside", "symlink_inside", "directory"])
def test_a_drop_file_that_is_not_a_regular_file_of_the_folder_is_never_read(
    book: Path, tmp_path: Path, replacement: str
) -> None:
    path = drop_file(book, "birch", "cash")
    content = path.read_bytes()
    path.unlink()
    if replacement == "directory":
        path.mkdir()
    else:
        target = tmp_path / "outside.dat" if replacement == "symlink_outside" else book / "x.dat"
        target.write_bytes(content)
        path.symlink_to(target)
    loaded = load_book(book, DAY, 5)
    assert loaded.cash_balances.filter(pl.col("custodian") == "birch").is_empty()
    record = loaded.source_files.filter(pl.col("source_file") == f.drop_path("birch", "cash", DAY))
    assert record["status"].to_list() == ["foreign"] and record["sha256"].to_list() == [None]
    assert raw_file(book, f.CUSTODIAN["birch"], "cash", DAY).is_empty()
    assert_whole_file_untrusted(book, "foreign_file", "birch", "not a regular file")


@pytest.mark.parametrize(
    ("custodian", "line", "extra"),
    [("alder", b"A1,1,001,403.67", "001,403.67"), ("birch", b"D|A1|1.00|USD|x", "USD|x")],
)
def test_raw_records_keep_the_fields_beyond_the_layout(
    book: Path, custodian: str, line: bytes, extra: str
) -> None:
    path = drop_file(book, custodian, "cash")
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([lines[0], line, *lines[1:]]))
    raw = raw_file(book, f.CUSTODIAN[custodian], "cash", DAY)
    by_line = dict(zip(raw["source_row"], raw["extra_fields"], strict=True))
    assert (by_line[2], by_line[3]) == (extra, None)


def test_a_symlinked_firm_file_is_never_read(book: Path, tmp_path: Path) -> None:
    from rebalance_pipeline.ingest.firm import FirmFileError

    accounts = book / "firm" / "accounts.csv"
    outside = tmp_path / "accounts.csv"
    outside.write_bytes(accounts.read_bytes())
    accounts.unlink()
    accounts.symlink_to(outside)
    with pytest.raises(FirmFileError, match=r"accounts\.csv is not a regular file .*symbolic"):
        load_book(book, DAY, 5)


# --------------------------------------------------------------------------------------
# History: a transactions file of the wash-sale window that cannot be trusted whole
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spoil", "cause"),
    [
        (lambda content: content.decode().encode("utf-16"), "wrong_encoding"),
        (lambda content: content.rsplit(b"\nT|", 1)[0] + b"\n", "truncated_file"),
    ],
    ids=["not_utf8", "cut_short"],
)
def test_an_untrusted_transactions_file_of_the_window_is_missing_history(
    book: Path, spoil, cause: str
) -> None:
    """Delivered but unreadable or cut short, yesterday's transactions may miss sales the
    wash-sale rule must see: the custodian's accounts cannot be judged today."""
    path = drop_file(book, "birch", "transactions", PREVIOUS_DAY)
    path.write_bytes(spoil(path.read_bytes()))
    found, suspended = findings_of(book, "missing_history")
    assert found.height == 1
    assert found["account_ids"][0].to_list() == custodian_accounts(book, "birch")
    assert set(custodian_accounts(book, "birch")) <= suspended
    assert f"({cause})" in found["message"][0] and path.name in found["message"][0]
