"""The command line refuses a date or a book it cannot run, in one line, before any run
starts (no Dagster run is ever launched for them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from run_home import use_home
from typer.testing import CliRunner

from rebalance_pipeline import runner
from rebalance_pipeline.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(autouse=True)
def no_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a run was started")

    monkeypatch.setattr(runner, "materialize_date", refuse)
    monkeypatch.setenv("REBALANCE_HOME", str(tmp_path / "home"))


def refused(*args: str) -> str:
    """The one line a refused command prints; it exits with 1."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    (line,) = result.output.strip().splitlines()
    return line


def test_a_saturday_names_the_business_days_around_it():
    line = refused("run", "--book", str(SAMPLE), "--date", "2026-03-14")
    assert line == (
        "2026-03-14 is not a business day (a Saturday): "
        "the previous business day is 2026-03-13, the next 2026-03-16"
    )


def test_an_exchange_holiday_is_refused_the_same_way():
    line = refused("run", "--book", str(SAMPLE), "--date", "2026-04-03")
    assert line == (
        "2026-04-03 is not a business day (an exchange holiday): "
        "the previous business day is 2026-04-02, the next 2026-04-06"
    )


def test_a_missing_book_is_named(tmp_path: Path):
    missing = tmp_path / "MISSING"
    line = refused("run", "--book", str(missing), "--date", "2026-03-16")
    assert line == f"no book at {missing}: a book folder has firm/ and drops/"


def test_a_date_and_latest_together_are_refused():
    line = refused("run", "--book", str(SAMPLE), "--date", "2026-03-16", "--latest")
    assert line == "give --date YYYY-MM-DD or --latest, not both"


def test_a_backfill_that_ends_before_it_starts_is_refused():
    line = refused(
        "backfill", "--book", str(SAMPLE), "--start", "2026-03-16", "--end", "2026-03-13"
    )
    assert line == "--start 2026-03-16 is after --end 2026-03-13: no dates to run"


def test_a_backfill_of_a_missing_book_is_refused(tmp_path: Path):
    missing = tmp_path / "MISSING"
    line = refused(
        "backfill", "--book", str(missing), "--start", "2026-03-12", "--end", "2026-03-13"
    )
    assert line == f"no book at {missing}: a book folder has firm/ and drops/"


def test_the_latest_date_of_a_book_without_drops_is_refused(tmp_path: Path):
    (tmp_path / "firm").mkdir()
    (tmp_path / "drops").mkdir()
    line = refused("run", "--book", str(tmp_path), "--latest")
    assert line == f"no drop folders under {tmp_path / 'drops'}"


def test_a_generator_option_out_of_range_names_the_option(tmp_path: Path):
    line = refused("generate", "--accounts", "0", "--out", str(tmp_path / "book"))
    assert line == "--accounts 0: Input should be greater than or equal to 2"
    line = refused("generate", "--faults", "1.5", "--out", str(tmp_path / "book"))
    assert line == "--faults 1.5: Input should be less than or equal to 1"
    assert not (tmp_path / "book").exists()


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory):
    """The sample's 2026-03-13 run as a replay (as a backfill runs it) in a home of its
    own: (the outcome, the home)."""
    home = tmp_path_factory.mktemp("replayed") / "home"
    with pytest.MonkeyPatch.context() as patch:
        use_home(patch, home, SAMPLE)
        outcome = runner.materialize_date(dt.date(2026, 3, 13), SAMPLE, release_mode="replay")
    assert outcome.success
    return outcome, home


def test_a_replay_reports_the_folder_its_trade_files_are_in(replayed):
    outcome, _ = replayed
    (line,) = [line for line in outcome.report().splitlines() if "trade files:" in line]
    folder = Path(line.split("trade files:")[1].strip())
    assert folder.name.startswith("replay-")
    assert (folder / "manifest.json").is_file()


def test_a_replay_run_is_tagged_replay_in_the_dagster_instance(replayed, monkeypatch):
    import dagster as dg

    from rebalance_pipeline.export.release_tag import RELEASE_MODE_TAG

    outcome, home = replayed
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(outcome.run_id).tags[RELEASE_MODE_TAG] == "replay"


def test_the_summary_of_a_replayed_date_says_nothing_was_released(replayed, monkeypatch):
    _, home = replayed
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    result = CliRunner().invoke(app, ["summary", "--date", "2026-03-13"])
    assert result.exit_code == 0, result.output
    assert "released trades" not in result.output
    assert "trades of the replay (nothing released):" in result.output


@pytest.mark.parametrize("command", ["run", "backfill", "review"])
def test_a_second_book_into_the_same_home_is_refused(replayed, monkeypatch, tmp_path, command):
    _, home = replayed
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    other = tmp_path / "other"
    (other / "firm").mkdir(parents=True)
    (other / "drops").mkdir()
    dates = {
        "run": ["--date", "2026-03-13"],
        "backfill": ["--start", "2026-03-13", "--end", "2026-03-13"],
        "review": ["--date", "2026-03-13"],
    }
    line = refused(command, "--book", str(other), *dates[command])
    assert line == (
        f"{home} holds the tables of book {SAMPLE}; run book {other} with a home of its "
        f"own (REBALANCE_HOME={home}-other)"
    )


def test_the_tables_of_a_day_that_is_no_business_day_say_so(replayed, monkeypatch):
    _, home = replayed
    monkeypatch.setenv("REBALANCE_HOME", str(home))
    result = CliRunner().invoke(app, ["status", "--date", "2026-03-14"])
    assert isinstance(result.exception, FileNotFoundError)
    assert str(result.exception) == (
        "2026-03-14 is not a business day (a Saturday): "
        "the previous business day is 2026-03-13, the next 2026-03-16"
    )


def test_a_date_before_the_books_first_drop_is_refused(tmp_path: Path):
    """The book's dates (the Dagster partitions) start at its first drop folder."""
    book = tmp_path / "book"
    (book / "firm").mkdir(parents=True)
    (book / "drops" / "2026-03-10").mkdir(parents=True)
    line = refused("run", "--book", str(book), "--date", "2026-03-09")
    assert line == f"2026-03-09 is before the first drop date of {book}, 2026-03-10"
