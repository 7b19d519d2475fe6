"""Synthetic custodian books: firm files, daily drops in two formats, injected faults."""

from rebalance_pipeline.generator.config import FAULT_KINDS, GeneratorConfig
from rebalance_pipeline.generator.generate import GeneratedBook, generate_book

__all__ = ["FAULT_KINDS", "GeneratedBook", "GeneratorConfig", "generate_book"]
