"""The sample book shipped under ``data/sample`` (a test keeps it in step with the generator)."""

from __future__ import annotations

from pathlib import Path

from rebalance_pipeline.generator.config import FAULT_KINDS, GeneratorConfig

# a symlink in the shipped sample would point outside the repository once checked out
SAMPLE_FAULT_KINDS = tuple(kind for kind in FAULT_KINDS if kind != "symlinked_file")


def sample_config() -> GeneratorConfig:
    """The config of the sample book: 300 accounts, 15 days, every fault family."""
    return GeneratorConfig(
        accounts=300,
        households=100,
        days=15,
        seed=2,
        fault_rate=0.1,
        max_lots_per_holding=2,
        fault_kinds=SAMPLE_FAULT_KINDS,
    )


SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
