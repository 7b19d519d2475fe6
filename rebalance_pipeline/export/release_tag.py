"""Every run of a date carries the tag ``rebalance/release_mode``: ``release`` when it sends
the date's trades out, ``replay`` otherwise, so the runs list tells the two apart.

Whoever launches a run sets the tag with the rule the run itself applies
(``export.release.releases``) to what the home holds at launch: ``rebalance run`` and
``backfill`` (through the runner), the schedule and the drop sensor. The ``trade_files``
step then sets it to what the run did, which also tags runs launched from the UI or a
Dagster backfill, and corrects a run that lost a race with another run of its date.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rebalance_pipeline.continuity.ledger import released_dates
from rebalance_pipeline.export.release import Mode, ReleaseOrderError, releases
from rebalance_pipeline.storage import latest_drop_date

RELEASE_MODE_TAG = "rebalance/release_mode"


def release_mode_tag(released: bool) -> dict[str, str]:
    return {RELEASE_MODE_TAG: "release" if released else "replay"}


def launch_tags(mode: Mode, day: dt.date, book: Path, home: Path) -> dict[str, str]:
    """The tag of a run of ``day`` launched now in ``mode`` (auto | release | replay)."""
    try:
        released = releases(mode, day, latest_drop_date(book), released_dates(home))
    except ReleaseOrderError:  # asked to release: the run refuses it, saying why
        released = True
    except FileNotFoundError:  # no drop folder in the book: nothing is current
        released = mode == "release"
    return release_mode_tag(released)
