"""Ingest benchmark: ``load_book`` vs a bare ``polars.read_csv`` of the same files.

Generates a book of 10,000 accounts with one business day of drops (and the 60-day price
history before it), then times warm runs of both in this process and prints rows/s,
their ratio (target <= 3) and the peak RSS (target <= 4 GiB).

    .venv/bin/python benchmarks/bench_ingest.py [--accounts N] [--repeat R] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

RATIO_TARGET = 3.0
RSS_TARGET_GIB = 4.0


def bare_read(paths: list[Path]) -> int:
    """Rows read by plain ``polars.read_csv`` calls on the files, no checks at all."""
    import polars as pl

    rows = 0
    for path in paths:
        if path.suffix == ".csv":
            rows += pl.read_csv(path).height
        else:
            rows += pl.read_csv(
                path, separator="|", has_header=False, skip_rows=1, truncate_ragged_lines=True
            ).height
    return rows


def best_of(repeat: int, run) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the book here and keep it")
    args = parser.parse_args()

    start = time.perf_counter()
    from rebalance_pipeline.calendar import previous_business_days as sessions_before
    from rebalance_pipeline.generator import GeneratorConfig, generate_book
    from rebalance_pipeline.ingest import load_book

    import_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        config = GeneratorConfig(
            accounts=args.accounts,
            households=args.accounts * 2 // 5,
            days=1,
            seed=1,
            fault_rate=0.0,
        )
        start = time.perf_counter()
        book = generate_book(config, root)
        generate_seconds = time.perf_counter() - start
        as_of = book.drop_days[-1]
        sessions_before(as_of, 60)  # calendar loaded: time warm work only
        history = [d.isoformat() for d in book.sessions[:-1]]
        paths = sorted((root / "drops" / as_of.isoformat()).rglob("*.*")) + sorted(
            p for d in history for p in (root / "drops" / d).rglob("*.*")
        )
        bare_seconds, bare_rows = best_of(args.repeat, lambda: bare_read(paths))
        load_seconds, loaded = best_of(args.repeat, lambda: load_book(root, as_of))
    rows = sum(
        loaded.tables()[n].height
        for n in (
            "prices",
            "price_history",
            "positions",
            "lots",
            "transactions",
            "cash_balances",
            "corporate_actions",
        )
    )
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    ratio = load_seconds / bare_seconds
    print(f"accounts            {args.accounts:>12,}")
    print(f"files               {len(paths):>12,}")
    print(f"custodian rows      {rows:>12,}  (bare read: {bare_rows:,} incl. trailers)")
    print(f"import seconds      {import_seconds:>12.2f}")
    print(f"generate seconds    {generate_seconds:>12.2f}")
    print(f"bare read_csv       {bare_seconds:>12.3f} s  {bare_rows / bare_seconds:>14,.0f} rows/s")
    print(f"load_book           {load_seconds:>12.3f} s  {rows / load_seconds:>14,.0f} rows/s")
    print(f"ratio               {ratio:>12.2f}    (target <= {RATIO_TARGET})")
    print(f"peak RSS            {peak_gib:>12.2f} GiB (target <= {RSS_TARGET_GIB})")
    return 0 if ratio <= RATIO_TARGET and peak_gib <= RSS_TARGET_GIB else 1


if __name__ == "__main__":
    sys.exit(main())
