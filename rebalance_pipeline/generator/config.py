"""Configuration of the synthetic custodian book."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rebalance_pipeline.generator.writers import WRITERS

# Faults that break a whole custodian file (scope: every account of the custodian, or
# for a truncated alder file, which has no trailer, the accounts from the last row read
# on). A symlinked file points outside the drop folder: never in the shipped sample.
FILE_FAULTS = (
    "missing_file",
    "late_file",
    "truncated_file",
    "wrong_encoding",
    "checksum_corrupted",
    "trailing_junk",
    "stale_header_date",
    "resent_previous_day",
    "symlinked_file",
    "statement_missing",
)
# File faults that leave the file in place, each only where its writer can carry it
# (``generator/writers.py``): a trailer's checksum, content after the file's end, an
# as-of date of the day before, a statement cut from a multi-account file.
SPOILED_FILE_FAULTS = (
    "checksum_corrupted",
    "trailing_junk",
    "stale_header_date",
    "statement_missing",
)
# Faults in a security's prices (scope: every account holding it).
PRICE_FAULTS = ("missing_price", "stale_price", "price_jump")
# Faults in one account's rows (scope: that account).
ROW_FAULTS = (
    "duplicate_rows",
    "unknown_security",
    "reconciliation_break",
    "negative_quantity",
    "malformed_number",
    "malformed_date",
    "ragged_row",
)
# Faults that only exist on the day of a corporate action (scope: the accounts shown).
CORPORATE_ACTION_FAULTS = ("split_not_applied", "symbol_change_not_applied")
# Faults in the firm's own files (scope: the accounts the faulty row protects).
FIRM_FAULTS = ("unresolvable_restriction",)
FAULT_KINDS = CORPORATE_ACTION_FAULTS + ROW_FAULTS + PRICE_FAULTS + FILE_FAULTS + FIRM_FAULTS
# Faults drawn from a random stream of their own and planned after the others, so that
# a book's other faults and files are the same with or without them.
FEED_FAULTS = (
    "ragged_row",
    "checksum_corrupted",
    "trailing_junk",
    "stale_header_date",
    "resent_previous_day",
    "symlinked_file",
    "statement_missing",
)
# Row faults only one custodian's format can carry.
FAULT_CUSTODIANS = {
    "ragged_row": ("alder",),  # birch amounts are not comma-separated fields, Flex is XML
}
# The finding check a fault kind must raise, where it is not the kind's own name.
FAULT_CHECKS = {
    "checksum_corrupted": "checksum_mismatch",
    "trailing_junk": "content_after_trailer",
    "stale_header_date": "stale_file",
    "resent_previous_day": "stale_file",
    "symlinked_file": "foreign_file",
    "statement_missing": "truncated_file",
    "ragged_row": "malformed_row",
}


def finding_check(kind: str) -> str:
    """The check of the finding that detects a fault of ``kind``."""
    return FAULT_CHECKS.get(kind, kind)


class GeneratorConfig(BaseModel):
    """What to generate. The same config always gives byte-identical files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accounts: int = Field(300, ge=2)
    households: int = Field(100, ge=1)
    days: int = Field(15, ge=1, description="business days of full drops")
    seed: int = 0
    fault_rate: float = Field(
        0.1,
        ge=0,
        le=1,
        description="chance per fault kind and business day of injecting it (for the split"
        " and symbol-change faults, which have one possible day: rate x days, at most 1)",
    )
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    end_date: dt.date = dt.date(2026, 3, 16)
    warmup_days: int = Field(60, ge=3, description="clean price-only days before the drops")
    max_lots_per_holding: int = Field(3, ge=1)
    custodians: tuple[str, ...] = Field(
        ("alder", "birch"),
        description="the book's custodians, of generator/writers.py (cedar: Flex XML)",
    )

    @model_validator(mode="after")
    def _check(self) -> GeneratorConfig:
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        check_household_sizes(self.accounts, self.households)
        if not self.custodians or not set(self.custodians) <= set(WRITERS):
            raise ValueError(f"custodians must be some of {', '.join(WRITERS)}")
        if list(self.custodians) != [c for c in WRITERS if c in self.custodians]:
            raise ValueError(f"custodians are listed in the order {', '.join(WRITERS)}")
        return self


def check_household_sizes(accounts: int, households: int) -> None:
    """Households hold 1 to 4 accounts (``accounts.build_accounts`` relies on it)."""
    if not households <= accounts <= 4 * households:
        raise ValueError("households hold 1 to 4 accounts: need households <= accounts <= 4x")
