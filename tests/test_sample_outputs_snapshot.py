"""The sample book's outputs of its latest date, byte for byte, against a committed
snapshot of their SHA-256: the trade files and manifest, the release ledger entry and
every stored Parquet table of the date (routing decisions, review queue, review
outcomes...). A change of code that should not change behaviour (a refactor) must leave
``tests/snapshots/sample_outputs.txt`` as it is.

The run is the suite's one shared materialization (``sample_run`` in conftest.py). The
manifest records the checkout's git commit (``provenance.code_version.git_commit``),
which every commit changes: it is replaced by a fixed text before hashing, in the
manifest and in the ``trade_files`` table that records the manifest's SHA-256.

After an intended change of outputs (or of the sample book):
``REBALANCE_UPDATE_SNAPSHOT=1 pytest tests/test_sample_outputs_snapshot.py`` rewrites the
snapshot; commit it with the change.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from output_fingerprints import fingerprints
from snapshot_compare import assert_matches_snapshot

SNAPSHOT = Path(__file__).parent / "snapshots" / "sample_outputs.txt"


def render(home: Path, day: dt.date) -> str:
    lines = [f"# sha256  file (home-relative) of the sample book's run of {day.isoformat()}"]
    for path, sha256 in fingerprints(home, day).items():
        lines.append(f"{sha256}  {path}")
    return "\n".join(lines) + "\n"


def test_the_sample_outputs_match_their_snapshot(materialized_sample: tuple[Path, dt.date]):
    home, day = materialized_sample
    assert_matches_snapshot(render(home, day), SNAPSHOT, "the sample book's outputs")
