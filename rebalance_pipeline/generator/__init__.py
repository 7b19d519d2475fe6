"""Synthetic custodian books: firm files, daily drops in two formats, injected faults."""

from rebalance_pipeline.generator.config import FAULT_KINDS, GeneratorConfig
from rebalance_pipeline.generator.generate import GeneratedBook, generate_book
from rebalance_pipeline.generator.sample import SAMPLE_CONFIG, SAMPLE_DIR

__all__ = [
    "FAULT_KINDS",
    "SAMPLE_CONFIG",
    "SAMPLE_DIR",
    "GeneratedBook",
    "GeneratorConfig",
    "generate_book",
]
