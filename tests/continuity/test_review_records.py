"""Review decisions are attributed, append-only inputs of the date they review."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from continuity_days import (
    MONDAY,
    date_tables,
    folder_state,
    release_day,
    reviewing_all,
    run_day,
    store_date_tables,
)

from rebalance_pipeline.continuity import read_ledger
from rebalance_pipeline.export.run import export_run, review_session
from rebalance_pipeline.review.queue import REVIEW_DECISIONS
from rebalance_pipeline.review.records import (
    DecisionRecordError,
    decisions_dir,
    read_decision_records,
    record_decisions,
)

DECIDED_AT = dt.datetime(2026, 3, 16, 18, 30, tzinfo=dt.UTC)


@pytest.fixture
def reviewed_day(p03, tmp_path):
    """Monday with every account group reviewed: A03's trades wait in the queue."""
    book, policy = p03
    policy = reviewing_all(policy)
    book_root, home = tmp_path / "book", tmp_path / "home"
    carried, outputs = run_day(book, policy, home)
    release_day(carried, outputs, home)  # the run's batch: nothing auto-released
    return date_tables(carried, outputs, policy), book_root, home


def decided(
    queue: pl.DataFrame, chosen: pl.Expr, decision: str, new_quantity: float | None = None
) -> pl.DataFrame:
    """Approve every queued trade but the ``chosen`` ones, given ``decision``."""
    return queue.with_columns(
        pl.when(chosen).then(pl.lit(decision)).otherwise(pl.lit("approve")).alias("decision"),
        pl.when(chosen).then(new_quantity).otherwise(None).alias("new_quantity"),
    ).select(REVIEW_DECISIONS.names())


def decisions_for(queue: pl.DataFrame) -> pl.DataFrame:
    """Approve everything but the SEC-BOND sell, cut from 2049 to 2000 shares."""
    bond = pl.col("security_id") == "SEC-BOND"
    return decided(queue, bond, "modify", 2000.0).with_columns(
        note=pl.lit("trimmed to a round 2,000")
    )


def monday_session(tables, decisions, book_root, home, reviewer="Dana", at=DECIDED_AT):
    """``rebalance review --date 2026-03-16 --decisions ... --reviewer ... --at ...``."""
    return review_session(
        tables,
        decisions,
        reviewer=reviewer,
        decided_at=at,
        book_root=book_root,
        home=home,
        as_of=MONDAY,
        policy_date=None,
    )


def monday_rerun(tables, book_root, home):
    """Monday's run exporting again (a replay once Monday has released)."""
    return export_run(
        tables,
        book_root=book_root,
        home=home,
        as_of=MONDAY,
        latest_drop_date=MONDAY,
        policy_date=None,
    )


def test_a_modified_decision_is_released_and_attributed(reviewed_day):
    tables, book_root, home = reviewed_day
    assert tables.released_trades.is_empty()
    assert tables.review_queue.height == 3

    outcome = monday_session(
        tables, decisions_for(tables.review_queue), book_root, home, reviewer="Dana Reviewer"
    )

    manifest = outcome.manifest
    assert manifest is not None and manifest.kind == "review" and manifest.release
    assert manifest.folder == home / "trades" / MONDAY.isoformat() / f"batch-{manifest.batch_id}"
    rows = pl.read_csv(manifest.folder / manifest.files[0].name, infer_schema=False)
    bond = rows.filter(pl.col("security_id") == "SEC-BOND").row(0, named=True)
    assert (bond["side"], bond["quantity"], bond["review_level"]) == ("sell", "2000", "review")
    assert bond["estimated_amount"] == "160000.00"
    # the decision record: who, when, why, and the batch whose queue it reviewed
    (record_file,) = decisions_dir(book_root, MONDAY).glob("*.csv")
    assert record_file.name == "2026-03-16T183000Z-Dana_Reviewer.csv"
    record = read_decision_records(book_root, MONDAY).filter(pl.col("security_id") == "SEC-BOND")
    assert record.select("decision", "new_quantity", "reviewer", "decided_at", "note").row(0) == (
        "modify",
        2000.0,
        "Dana Reviewer",
        "2026-03-16T18:30:00Z",
        "trimmed to a round 2,000",
    )
    assert (
        record["batch_id"].item()
        == json.loads((home / "trades" / MONDAY.isoformat() / "manifest.json").read_text())[
            "batch_id"
        ]
    )
    # the stored outcome explain reads, and the ledger the next date reads
    stored = outcome.review_outcomes.filter(pl.col("security_id") == "SEC-BOND").row(0, named=True)
    assert (stored["quantity"], stored["reviewer"], stored["decided_at"]) == (
        2000.0,
        "Dana Reviewer",
        "2026-03-16T18:30:00Z",
    )
    ledger = read_ledger(home, MONDAY + dt.timedelta(days=1))
    assert ledger.trades.filter(pl.col("security_id") == "SEC-BOND")["quantity"].to_list() == [
        2000.0
    ]
    assert ledger.raised_requests["request_id"].to_list() == ["A03-CR1"]


def test_a_replay_reads_the_decisions_and_reproduces_the_release(reviewed_day):
    tables, book_root, home = reviewed_day
    monday_session(tables, decisions_for(tables.review_queue), book_root, home)
    before = folder_state(home / "trades" / MONDAY.isoformat())
    replay = monday_rerun(tables, book_root, home)
    assert replay.released is False  # Monday already has a released batch
    diff = json.loads((replay.manifest.folder / "diff.json").read_text())
    assert diff["accounts_changed"] == []
    assert folder_state(home / "trades" / MONDAY.isoformat()) == before
    # a second session finds nothing new to release: the account already went out
    later = DECIDED_AT + dt.timedelta(minutes=5)
    again = monday_session(tables, decisions_for(tables.review_queue), book_root, home, at=later)
    assert again.manifest is None
    assert len(list(decisions_dir(book_root, MONDAY).glob("*.csv"))) == 2


def test_decision_records_are_never_overwritten(reviewed_day, tmp_path):
    tables, book_root, _ = reviewed_day
    decisions = decisions_for(tables.review_queue)
    record_decisions(book_root, MONDAY, decisions, "Dana", DECIDED_AT, None)
    with pytest.raises(DecisionRecordError, match="never overwritten"):
        record_decisions(book_root, MONDAY, decisions, "Dana", DECIDED_AT, None)
    with pytest.raises(DecisionRecordError, match="reviewer"):
        record_decisions(book_root, MONDAY, decisions, " ", DECIDED_AT, None)
    with pytest.raises(DecisionRecordError, match="no decision"):
        record_decisions(
            book_root, MONDAY, decisions.with_columns(decision=None), "Dana", DECIDED_AT, None
        )


def test_the_review_command_shows_the_queue_then_records_and_releases(
    reviewed_day, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from rebalance_pipeline import storage
    from rebalance_pipeline.cli import app

    tables, book_root, home = reviewed_day
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    store_date_tables(tables, MONDAY, home)
    runner = CliRunner()
    base = ["review", "--date", "2026-03-16", "--book", str(book_root)]

    shown = runner.invoke(app, base)
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0].startswith("account_id,security_id,side,lot_id")
    assert len(shown.output.splitlines()) == 4  # header + A03's three trades

    decisions = tmp_path / "decided.csv"
    decisions_for(tables.review_queue).write_csv(decisions)
    unsigned = runner.invoke(app, [*base, "--decisions", str(decisions)])
    assert unsigned.exit_code == 1
    recorded = runner.invoke(
        app,
        [*base, "--decisions", str(decisions), "--reviewer", "Dana", "--at", "2026-03-16T18:30:00"],
    )
    assert recorded.exit_code == 0, recorded.output
    assert "released batch" in recorded.output
    outcomes = storage.read_partition("review_outcomes", MONDAY, home)
    assert outcomes.filter(pl.col("security_id") == "SEC-BOND")["quantity"].to_list() == [2000.0]
    assert set(outcomes["reviewer"]) == {"Dana"}
    # the queue is settled: nothing left to show
    assert len(runner.invoke(app, base).output.splitlines()) == 1


def with_optimization(policy, **changes):
    return policy.model_copy(
        update={"optimization": policy.optimization.model_copy(update=changes)}
    )


@pytest.mark.parametrize(
    ("optimization", "bought", "rule"),
    [
        ({"round_lots": True}, 1104.5, "round_lot"),  # half a share; SEC-BND2 trades in 1s
        ({"min_trade_usd": 1000.0}, 5.0, "min_trade_size"),  # 5 x 100 = $500 < $1,000
    ],
)
def test_a_modified_buy_that_breaks_a_rule_is_neither_released_nor_written(
    p03, tmp_path, optimization, bought, rule
):
    book, policy = p03
    policy = with_optimization(reviewing_all(policy), **optimization)
    book_root, home = tmp_path / "book", tmp_path / "home"
    carried, outputs = run_day(book, policy, home)
    release_day(carried, outputs, home)
    tables = date_tables(carried, outputs, policy)
    buy = pl.col("security_id") == "SEC-BND2"
    assert tables.review_queue.filter(buy)["quantity"].to_list() == [1104.0]

    decisions = decided(tables.review_queue, buy, "modify", bought)
    outcome = monday_session(tables, decisions, book_root, home)

    assert outcome.manifest is None
    assert not list((home / "trades" / MONDAY.isoformat()).glob("batch-*"))
    assert read_ledger(home, MONDAY + dt.timedelta(days=1)).trades.is_empty()
    assert outcome.review_outcomes.is_empty()
    assert outcome.review_findings.select("account_id", "security_id", "check").rows() == [
        ("A03", "SEC-BND2", rule)
    ]
    # the date's run re-reading the recorded decisions writes no row for the account either
    rerun = monday_rerun(tables, book_root, home)
    assert rerun.manifest.total_rows == 0
    assert rerun.review_findings.equals(outcome.review_findings)


def test_the_review_command_says_why_an_account_stays_in_the_queue(
    reviewed_day, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from rebalance_pipeline.cli import app

    tables, book_root, home = reviewed_day
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    store_date_tables(tables, MONDAY, home)
    path = tmp_path / "decided.csv"
    decided(tables.review_queue, pl.col("side") == "sell", "reject").write_csv(path)

    base = ["review", "--date", "2026-03-16", "--book", str(book_root)]
    result = CliRunner().invoke(app, [*base, "--decisions", str(path), "--reviewer", "Dana"])

    assert result.exit_code == 0, result.output
    assert "0 trades settled" in result.stdout and "released batch" not in result.stdout
    # the funding sells rejected: $2,000 - 1,104 x $100 - 5 bps of it - $60,000 due
    assert result.stderr.splitlines() == [
        "still in the queue:",
        "A03: negative_cash: cash 2000.0 + sells 0.0 - buys 110400.0 - estimated costs 55.2 "
        "- due withdrawals 60000.0 = -168455.2 < 0 (buy 1104.0 SEC-BND2)",
    ]


def review_file_run(reviewed_day, tmp_path, monkeypatch, content: bytes):
    """``rebalance review --decisions FILE`` of Monday with ``content`` as the file."""
    from typer.testing import CliRunner

    from rebalance_pipeline.cli import app

    tables, book_root, home = reviewed_day
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    store_date_tables(tables, MONDAY, home)
    path = tmp_path / "decided.csv"
    path.write_bytes(content)
    base = ["review", "--date", "2026-03-16", "--book", str(book_root)]
    return CliRunner().invoke(app, [*base, "--decisions", str(path), "--reviewer", "Dana"])


def excel_csv(frame: pl.DataFrame, delimiter: str = ",") -> bytes:
    """The file as a spreadsheet saves it: a UTF-8 byte order mark, CRLF line ends and a
    row someone cleared."""
    text = frame.write_csv(separator=delimiter, line_terminator="\r\n")
    cleared = delimiter * (frame.width - 1) + "\r\n"
    return "\ufeff".encode() + (text + cleared).encode()


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_a_decisions_file_saved_by_a_spreadsheet_is_read(
    reviewed_day, tmp_path, monkeypatch, delimiter
):
    tables, book_root, _ = reviewed_day
    content = excel_csv(decisions_for(tables.review_queue), delimiter)
    result = review_file_run(reviewed_day, tmp_path, monkeypatch, content)
    assert result.exit_code == 0, result.output
    assert "released batch" in result.stdout
    (recorded,) = decisions_dir(book_root, MONDAY).glob("*.csv")
    bond = pl.read_csv(recorded).filter(pl.col("security_id") == "SEC-BOND")
    assert bond["new_quantity"].to_list() == [2000.0]


def test_a_decisions_file_not_in_utf8_is_refused_naming_the_encoding(
    reviewed_day, tmp_path, monkeypatch
):
    tables, book_root, _ = reviewed_day
    content = decisions_for(tables.review_queue).write_csv().encode("utf-16")
    result = review_file_run(reviewed_day, tmp_path, monkeypatch, content)
    assert result.exit_code == 1
    assert "decided.csv: not UTF-8 text (invalid start byte at byte 0)" in result.output
    assert not decisions_dir(book_root, MONDAY).exists()


def test_a_decision_for_a_trade_not_in_the_queue_is_refused_nothing_recorded(
    reviewed_day, tmp_path, monkeypatch
):
    tables, book_root, _ = reviewed_day
    decisions = decisions_for(tables.review_queue)
    stranger = decisions.head(1).with_columns(
        security_id=pl.lit("SEC-TOBA"), side=pl.lit("sell"), lot_id=pl.lit("A03-L-TOBA")
    )
    content = pl.concat([decisions, stranger]).write_csv().encode()
    result = review_file_run(reviewed_day, tmp_path, monkeypatch, content)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "refused, nothing recorded: decisions for trades not in the queue",
        f"A03 SEC-TOBA sell lot A03-L-TOBA: {stranger['decision'][0]}",
    ]
    assert not decisions_dir(book_root, MONDAY).exists()
