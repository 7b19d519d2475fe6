"""A backfill gives the same bytes whatever order the dates run in."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from builtin_custodians import SAMPLE_CUSTODIANS

from rebalance_pipeline.generator import GeneratorConfig, generate_book

pytestmark = pytest.mark.slow


def _materialize(day: dt.date) -> None:
    from rebalance_pipeline.definitions import defs

    config = {"resources": {"release": {"config": {"mode": "replay"}}}}
    result = defs.resolve_job_def("daily_rebalance").execute_in_process(
        partition_key=day.isoformat(), run_config=config
    )
    assert result.success


def _fingerprint(home: Path) -> dict[str, str]:
    """SHA-256 of every stored table and trade file under the home folder."""
    files = [*home.glob("warehouse/**/*.parquet"), *home.glob("trades/**/*")]
    return {
        str(path.relative_to(home)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(files)
        if path.is_file()
    }


def test_reverse_order_backfill_equals_forward_order_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = tmp_path / "book"
    config = GeneratorConfig(
        accounts=40, households=15, days=3, warmup_days=10, seed=4, custodians=SAMPLE_CUSTODIANS
    )  # the custodians the process's definitions were loaded with (the sample book's)
    generated = generate_book(config, book)
    days = list(generated.drop_days)
    monkeypatch.setenv("REBALANCE_BOOK", str(book))
    prints = []
    for order, name in ((days, "forward"), (days[::-1], "reverse")):
        home = tmp_path / name
        monkeypatch.setenv("REBALANCE_HOME", str(home))
        for day in order:
            _materialize(day)
        prints.append(_fingerprint(home))
    forward, reverse = prints
    assert len(forward) > 50
    assert forward == reverse
