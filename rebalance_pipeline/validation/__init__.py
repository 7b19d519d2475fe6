"""Validation and suspension: contracts, rules, findings, account status, manual queue."""

from rebalance_pipeline.validation.status import status_report
from rebalance_pipeline.validation.validate import ValidationResult, collect_findings, validate_book

__all__ = ["ValidationResult", "collect_findings", "status_report", "validate_book"]
