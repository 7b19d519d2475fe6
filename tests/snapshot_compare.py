"""Committed text snapshots: a rendering compared with its file under ``tests/snapshots/``.

``REBALANCE_UPDATE_SNAPSHOT=1`` rewrites the file instead (after an intended change;
commit it with the change).
"""

from __future__ import annotations

import os
from pathlib import Path

UPDATE_ENV = "REBALANCE_UPDATE_SNAPSHOT"


def assert_matches_snapshot(rendered: str, snapshot: Path, what: str) -> None:
    """``rendered`` equals the committed ``snapshot``; ``what`` names what changed."""
    if os.environ.get(UPDATE_ENV) == "1":
        snapshot.write_text(rendered)
    assert snapshot.is_file(), f"no snapshot: {UPDATE_ENV}=1 writes {snapshot}"
    assert rendered == snapshot.read_text(), (
        f"{what} changed: if intended, review the diff and rewrite the snapshot with {UPDATE_ENV}=1"
    )
