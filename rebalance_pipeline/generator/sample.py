"""The sample book shipped under ``data/sample`` (a test keeps it in step with the generator)."""

from __future__ import annotations

from pathlib import Path

from rebalance_pipeline.generator.config import FAULT_KINDS, GeneratorConfig

# a symlink in the shipped sample would point outside the repository once checked out
SAMPLE_FAULT_KINDS = tuple(kind for kind in FAULT_KINDS if kind != "symlinked_file")


def sample_config() -> GeneratorConfig:
    """The config of the sample book: 300 accounts, 15 days, three custodians (one in
    Interactive Brokers Flex Query XML), every fault family.

    The seed is one whose Flex custodian (``cedar``) delivers every file of the month
    whole, its faults all in rows: a Flex file carries the transactions too, so a file
    not trusted whole leaves its accounts without wash-sale history for 30 days and the
    latest date would show none of them trading. Whole-file faults of the Flex format
    are exercised by the fault-kind tests instead."""
    return GeneratorConfig(
        accounts=300,
        households=100,
        days=15,
        seed=24,
        fault_rate=0.1,
        max_lots_per_holding=2,
        fault_kinds=SAMPLE_FAULT_KINDS,
        custodians=("alder", "birch", "cedar"),
    )


SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
