"""Day-to-day continuity: the release ledger, pending orders, the cash-request lifecycle,
release vs replay of trade files, and attributed review decisions."""

from rebalance_pipeline.continuity.ledger import Ledger, LedgerEntry, read_ledger
from rebalance_pipeline.continuity.state import Continuity, continue_book

__all__ = ["Continuity", "Ledger", "LedgerEntry", "continue_book", "read_ledger"]
