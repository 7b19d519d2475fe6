"""Point a test's runs at a home of their own."""

from __future__ import annotations

from pathlib import Path

import pytest


def use_home(patch: pytest.MonkeyPatch, home: Path, book: Path) -> None:
    """Runs write under ``home`` (tables, trade files, the Dagster instance) from ``book``;
    ``patch`` restores the variables the runner sets."""
    for name, value in {
        "REBALANCE_HOME": home,
        "REBALANCE_BOOK": book,
        "DAGSTER_HOME": home / "dagster",
    }.items():
        patch.setenv(name, str(value))
