"""The custodians of a generated book, the format each writes in and its share of the
accounts."""

from __future__ import annotations

import numpy as np

from rebalance_pipeline.generator.flex_render import FlexWriter
from rebalance_pipeline.generator.render import AlderWriter, BirchWriter, FormatWriter
from rebalance_pipeline.ingest.custodians import Custodian

WRITERS: dict[str, FormatWriter] = {
    "alder": AlderWriter(),
    "birch": BirchWriter(),
    "cedar": FlexWriter(),
}
CUSTODIANS: dict[str, Custodian] = {c: Custodian(c, w.adapter) for c, w in WRITERS.items()}
# each custodian's share of the accounts; the last custodian of a book takes the rest
SHARES = {"alder": 0.55, "birch": 0.25, "cedar": 0.20}


def custodians_of_accounts(
    rng: np.random.Generator, accounts: int, custodians: tuple[str, ...]
) -> np.ndarray:
    """A custodian of ``custodians`` for each of ``accounts`` accounts, by :data:`SHARES`."""
    edges = np.cumsum([SHARES[c] for c in custodians])[:-1]
    return np.array(custodians)[np.searchsorted(edges, rng.random(accounts), side="right")]


def custodians_file(custodians: tuple[str, ...]) -> bytes:
    """``firm/custodians.yaml`` of a generated book."""
    entries = [f"  {name}: {{adapter: {WRITERS[name].adapter_name}}}" for name in custodians]
    return ("custodians:\n" + "\n".join(entries) + "\n").encode()
