"""Only the current date releases; a re-run of a released date is a replay beside it."""

from __future__ import annotations

import json

import polars as pl
import pytest
from continuity_days import MONDAY, TUESDAY, folder_state, release_day, run_day

from rebalance_pipeline.continuity import read_ledger
from rebalance_pipeline.continuity.cash_requests import requests_raised_by
from rebalance_pipeline.export.release import (
    OperatorRecord,
    ReleaseOrderError,
    changed_accounts,
    export_date,
    releases,
)


@pytest.mark.parametrize(
    ("mode", "day", "released", "expected"),
    [
        ("auto", TUESDAY, set(), True),  # the latest drop date, not yet released
        ("auto", TUESDAY, {TUESDAY}, False),  # already released: a re-run replays
        ("auto", MONDAY, set(), False),  # a past date (backfill) replays
        ("replay", TUESDAY, set(), False),
        ("release", MONDAY, {MONDAY}, True),  # an operator's explicit --release
    ],
)
def test_which_runs_release(mode, day, released, expected):
    assert releases(mode, day, TUESDAY, released) is expected


@pytest.mark.parametrize("mode", ["release", "auto"])
def test_a_date_before_a_released_date_is_never_released(mode):
    """Tuesday's run read a ledger without Monday's trades: releasing Monday now would send
    both blind to each other (a withdrawal raised twice, a lot sold twice)."""
    with pytest.raises(ReleaseOrderError, match="2026-03-17 was released after it"):
        releases(mode, MONDAY, MONDAY, {TUESDAY})


def test_a_date_before_a_released_date_still_replays():
    assert releases("replay", MONDAY, TUESDAY, {MONDAY, TUESDAY}) is False
    assert releases("auto", MONDAY, TUESDAY, {TUESDAY}) is False


def test_an_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="release mode 'publish'"):
        releases("publish", TUESDAY, TUESDAY, set())


def test_a_replay_of_a_released_date_has_an_empty_diff_and_leaves_the_release_alone(p03, tmp_path):
    book, policy = p03
    released = release_day(*run_day(book, policy, tmp_path), tmp_path)
    folder = tmp_path / "trades" / MONDAY.isoformat()
    before = folder_state(folder)
    ledger_before = folder_state(tmp_path / "ledger")

    replay = release_day(*run_day(book, policy, tmp_path), tmp_path, release=False)

    assert replay.release is False
    assert replay.folder == folder / f"replay-{replay.batch_id}"
    assert replay.batch_id == released.batch_id  # same inputs, same content
    manifest = json.loads((replay.folder / "manifest.json").read_text())
    assert manifest["release"] is False
    diff = json.loads((replay.folder / "diff.json").read_text())
    assert diff["accounts_changed"] == []
    assert diff["released_batch_ids"] == [released.batch_id]
    assert folder_state(folder) == before
    assert folder_state(tmp_path / "ledger") == ledger_before
    # the replayed trade file holds the same rows as the released one
    name = released.files[0].name
    assert (replay.folder / name).read_bytes() == (folder / name).read_bytes()


def test_a_replay_after_a_data_fix_lists_the_accounts_that_differ(p03, tmp_path):
    book, policy = p03
    release_day(*run_day(book, policy, tmp_path), tmp_path)
    fixed = book.__class__.from_frames(
        MONDAY,
        **(book.tables() | {"cash_requests": book.cash_requests.with_columns(amount=pl.lit(1e4))}),
    )
    replay = release_day(*run_day(fixed, policy, tmp_path), tmp_path, release=False)
    diff = json.loads((replay.folder / "diff.json").read_text())
    assert diff["accounts_changed"] == ["A03"]


def test_changed_accounts_compares_rows_as_written():
    row = {"account_id": "A1", "security_id": "S", "side": "sell", "lot_id": "L1", "price": 10.0}
    before = pl.DataFrame(
        [
            row | {"quantity": 5.0},
            row | {"account_id": "A2", "quantity": 1.0},
            row | {"account_id": "A4", "quantity": 1.0},
            row | {"account_id": "A5", "quantity": 1.0},
        ]
    )
    after = pl.DataFrame(
        [
            row | {"quantity": 5.000001},  # the sixth place is written
            row | {"account_id": "A3", "quantity": 1.0},
            row | {"account_id": "A4", "quantity": 1.0, "price": 10.004},  # 10.0040 vs 10.0000
            row | {"account_id": "A5", "quantity": 1.0 + 1e-12, "price": 10.00004},  # as written
        ]
    )
    assert changed_accounts(before, after) == ["A1", "A2", "A3", "A4"]
    assert changed_accounts(before, before.reverse()) == []


def test_an_explicit_release_records_the_operator_and_supersedes_in_the_ledger(p03, tmp_path):
    book, policy = p03
    first = release_day(*run_day(book, policy, tmp_path), tmp_path)
    smaller = book.__class__.from_frames(
        MONDAY,
        **(book.tables() | {"cash_requests": book.cash_requests.with_columns(amount=pl.lit(1e4))}),
    )
    carried, outputs = run_day(smaller, policy, tmp_path)
    again = export_date(
        outputs.routing.released_trades,
        requests_raised_by(
            carried.book.cash_requests,
            outputs.routing.decisions,
            outputs.routing.released_trades,
            MONDAY,
        ),
        carried.book.accounts,
        carried.book.securities,
        home=tmp_path,
        as_of=MONDAY,
        release=True,
        operator=OperatorRecord("ops-anna", "2026-03-17T08:05:00Z"),
    )
    assert again.supersedes == first.batch_id
    folder = tmp_path / "trades" / MONDAY.isoformat()
    record = json.loads((folder / f"release-{again.batch_id}.operator.json").read_text())
    assert record == {
        "as_of": "2026-03-16",
        "batch_id": again.batch_id,
        "operator": "ops-anna",
        "requested_at": "2026-03-17T08:05:00Z",
    }
    # the next date sees only the batch that replaced the first one
    assert read_ledger(tmp_path, TUESDAY).trades["batch_id"].unique().to_list() == [again.batch_id]
