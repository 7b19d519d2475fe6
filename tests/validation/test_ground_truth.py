"""Against the generator's fault ground truth: every faulty account found, no other."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from rebalance_pipeline import generator, ingest
from rebalance_pipeline.policy import Policy
from rebalance_pipeline.validation import validate_book

FILE_FAULTS = ("missing_file", "late_file", "truncated_file", "wrong_encoding")


@pytest.mark.parametrize(
    ("seed", "kinds"),
    [(1, None), (3, FILE_FAULTS)],
    ids=["all_faults", "file_faults"],
)
def test_findings_match_ground_truth(tmp_path: Path, seed: int, kinds: tuple | None) -> None:
    extra = {"fault_kinds": kinds} if kinds else {}
    config = generator.GeneratorConfig(
        accounts=60, households=20, days=6, warmup_days=10, fault_rate=0.5, seed=seed, **extra
    )
    generated = generator.generate_book(config, tmp_path)
    truth = generated.faults
    for day in generated.drop_days:
        book = ingest.load_book(tmp_path, day, 60)
        result = validate_book(book, Policy())
        expected = truth.filter(pl.col("file_date") == day)
        status = result.account_status
        suspended = set(status.filter(pl.col("status") == "suspended")["account_id"])
        assert suspended == set(expected["account_ids"].explode().drop_nulls()), day
        checks = {generator.finding_check(kind) for kind in expected["fault_kind"]}
        assert set(result.findings["check"]) == checks, day
