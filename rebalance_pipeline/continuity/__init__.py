"""Day-to-day continuity: the release ledger, pending orders and the cash-request
lifecycle carried from earlier releases into the date's book (before validation)."""

from rebalance_pipeline.continuity.ledger import Ledger, LedgerEntry, read_ledger
from rebalance_pipeline.continuity.state import Continuity, continue_book

__all__ = ["Continuity", "Ledger", "LedgerEntry", "continue_book", "read_ledger"]
