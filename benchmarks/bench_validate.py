"""Benchmark of validate_book on a generated 10k-account book.

Generates a book whose last date carries every row- and price-level fault kind (file
faults would suspend a whole custodian and leave little to check), times ``load_book``
and ``validate_book`` on it and reports the ratio (target: validation at most 2x
loading). Import time is reported apart from the warm work.

    .venv/bin/python benchmarks/bench_validate.py [--accounts 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

FILE_FAULTS = {"missing_file", "late_file", "truncated_file", "wrong_encoding"}


def timed(label: str, fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<32} {seconds:8.2f} s")
    return value, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args()

    timed("import pandera.polars", lambda: __import__("pandera.polars"))
    from rebalance_pipeline.generator import FAULT_KINDS, GeneratorConfig, generate_book
    from rebalance_pipeline.ingest import load_book
    from rebalance_pipeline.policy import Policy
    from rebalance_pipeline.validation import validate_book

    config = GeneratorConfig(
        accounts=args.accounts,
        households=args.accounts // 3,
        days=2,
        warmup_days=10,
        fault_rate=1.0,
        fault_kinds=tuple(k for k in FAULT_KINDS if k not in FILE_FAULTS),
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        generated, _ = timed(
            "generate_book (not timed work)", lambda: generate_book(config, workdir)
        )
        as_of = generated.drop_days[-1]
        book, load_seconds = timed("load_book", lambda: load_book(workdir, as_of, 60))
    sizes = {name: getattr(book, name).height for name in ("accounts", "lots", "positions")}
    print(", ".join(f"{name} {rows}" for name, rows in sizes.items()))
    validate_book(book, Policy())  # warm-up: the first call builds the pandera schemas
    result, seconds = timed("validate_book (warm)", lambda: validate_book(book, Policy()))
    suspended = result.account_status.filter(pl.col("status") == "suspended").height
    checks = sorted(set(result.findings["check"]))
    print(f"findings {result.findings.height} ({', '.join(checks)})")
    print(f"suspended accounts {suspended} of {book.accounts.height}")
    print(f"validate / load ratio {seconds / load_seconds:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
