"""The built-in custodians of the sample and generated books (alder, birch), by name."""

from __future__ import annotations

import datetime as dt

from rebalance_pipeline.ingest.custodians import DEFAULT_CUSTODIANS, Custodian

CUSTODIAN: dict[str, Custodian] = {c.name: c for c in DEFAULT_CUSTODIANS}
CUSTODIANS = tuple(CUSTODIAN)


def drop_path(custodian: str, kind: str, day: dt.date) -> str:
    return CUSTODIAN[custodian].drop_path(kind, day)
