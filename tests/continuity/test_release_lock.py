"""Two runs of one date exporting at once release one batch: the decision and the writes
happen under the date's release lock, so the second sees the first's release and replays."""

from __future__ import annotations

import contextlib
import dataclasses
import threading

from continuity_days import MONDAY, date_tables, run_day

from rebalance_pipeline.continuity.ledger import released_batch_ids
from rebalance_pipeline.export import run as export


def test_two_runs_of_a_date_at_once_release_one_batch(p03, tmp_path, monkeypatch):
    book, policy = p03
    tables = date_tables(*run_day(book, policy, tmp_path), policy)
    assert tables.released_trades.height > 1
    # a corrected re-drop: the second run has one trade less, a different batch
    corrected = dataclasses.replace(tables, released_trades=tables.released_trades.head(-1))

    # both runs decide before either writes, when nothing serializes them
    both_decided = threading.Barrier(2, timeout=1)
    decide = export.releases

    def racing_decision(*args):
        decided = decide(*args)
        # with the lock the other run waits for it: this one goes on alone
        with contextlib.suppress(threading.BrokenBarrierError):
            both_decided.wait()
        return decided

    monkeypatch.setattr(export, "releases", racing_decision)
    outcomes = []

    def run(date_tables):
        outcomes.append(
            export.export_run(
                date_tables,
                book_root=tmp_path / "book",
                home=tmp_path,
                as_of=MONDAY,
                latest_drop_date=MONDAY,
                policy_date=None,
            )
        )

    runs = [threading.Thread(target=run, args=(t,)) for t in (tables, corrected)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()

    assert sorted(outcome.released for outcome in outcomes) == [False, True]
    released = next(o for o in outcomes if o.released).manifest
    assert released_batch_ids(tmp_path, MONDAY) == [released.batch_id]
    assert len(list((tmp_path / "ledger" / MONDAY.isoformat()).glob("*.json"))) == 1
    assert not list((tmp_path / "trades" / MONDAY.isoformat()).glob("batch-*"))
