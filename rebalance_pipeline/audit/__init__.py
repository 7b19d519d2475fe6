"""Audit: explain one account's decision on a date, and diff a date's batches."""

from rebalance_pipeline.audit.batches import AuditError
from rebalance_pipeline.audit.diff import BatchDiff, diff
from rebalance_pipeline.audit.explain import Explanation, explain

__all__ = ["AuditError", "BatchDiff", "Explanation", "diff", "explain"]
