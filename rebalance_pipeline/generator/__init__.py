"""Synthetic custodian books: firm files, daily drops in two formats, injected faults.

``generate_book(GeneratorConfig(...), out)`` writes::

    out/firm/*.csv, out/firm/policy/2020-01-01.yaml   effective-dated firm files
    out/drops/YYYY-MM-DD/<custodian>/<files>          warm-up days: prices only
    out/drops/arrivals.csv                            the transfer server's arrival log
    out/ground_truth/faults.csv                       every injected fault and its accounts

File layouts are those of the custodians' adapters (``ingest.custodians``), written by
``generator.render``. Faults fall only on the drop days and are kept apart so that each
ground-truth row lists exactly the accounts a detector can see it touch (see
``generator.faults``).
"""

from rebalance_pipeline.generator.config import FAULT_KINDS, GeneratorConfig, finding_check
from rebalance_pipeline.generator.generate import GeneratedBook, generate_book
from rebalance_pipeline.generator.sample import SAMPLE_DIR, sample_config

__all__ = [
    "FAULT_KINDS",
    "SAMPLE_DIR",
    "GeneratedBook",
    "GeneratorConfig",
    "finding_check",
    "generate_book",
    "sample_config",
]
