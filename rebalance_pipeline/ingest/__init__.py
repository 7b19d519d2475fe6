"""Custodian drops and firm files -> the canonical ``Book`` of a date."""

from rebalance_pipeline.ingest.load import load_book
from rebalance_pipeline.ingest.parse import ParsedFile, parse_file

__all__ = ["ParsedFile", "load_book", "parse_file"]
