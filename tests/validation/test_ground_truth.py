"""Against the generator's fault ground truth: every faulty account found, no other."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline import generator, ingest
from rebalance_pipeline.policy import Policy, book_policy
from rebalance_pipeline.validation import validate_book

FILE_FAULTS = ("missing_file", "late_file", "truncated_file", "wrong_encoding")
THREE_CUSTODIANS = ("alder", "birch", "cedar")


@pytest.mark.parametrize(
    ("seed", "kinds", "custodians"),
    [(1, None, None), (3, FILE_FAULTS, None), (4, None, THREE_CUSTODIANS)],
    ids=["all_faults", "file_faults", "all_faults_with_flex"],
)
def test_findings_match_ground_truth(
    tmp_path: Path, seed: int, kinds: tuple | None, custodians: tuple | None
) -> None:
    extra = {"fault_kinds": kinds} if kinds else {}
    extra |= {"custodians": custodians} if custodians else {}
    config = generator.GeneratorConfig(
        accounts=60, households=20, days=6, warmup_days=10, fault_rate=0.5, seed=seed, **extra
    )
    generated = generator.generate_book(config, tmp_path)
    for day in generated.drop_days:
        _assert_findings_match(tmp_path, day, generated.faults, Policy())


def test_the_sample_books_findings_match_its_ground_truth() -> None:
    """The shipped sample (three custodians, one in Flex XML) on every drop date."""
    truth = pl.read_csv(
        generator.SAMPLE_DIR / "ground_truth" / "faults.csv", try_parse_dates=True
    ).with_columns(pl.col("account_ids").str.split(" "))
    sample = generator.SAMPLE_DIR
    first = truth["file_date"].min()  # the drops before it carry the price history only
    days = [dt.date.fromisoformat(d.name) for d in (sample / "drops").iterdir() if d.is_dir()]
    for day in sorted(d for d in days if d >= first):
        _assert_findings_match(sample, day, truth, book_policy(sample, day))


def _assert_findings_match(root: Path, day: dt.date, truth: pl.DataFrame, policy: Policy) -> None:
    book = ingest.load_book(root, day, 60)
    result = validate_book(book, policy)
    expected = truth.filter(pl.col("file_date") == day)
    status = result.account_status
    suspended = set(status.filter(pl.col("status") == "suspended")["account_id"])
    assert suspended == set(expected["account_ids"].explode().drop_nulls()), day
    checks = {generator.finding_check(kind) for kind in expected["fault_kind"]}
    assert set(result.findings["check"]) == checks, day
