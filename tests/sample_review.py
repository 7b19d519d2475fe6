"""The materialized sample date copied into a test's own book and home, and reviewed the
way ``rebalance review`` does it (imported by the review and browser tests; pytest puts this
folder on sys.path)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
from pathlib import Path

import polars as pl
import pytest
from run_home import use_home
from typer.testing import CliRunner

from rebalance_pipeline.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


@dataclasses.dataclass(frozen=True)
class SampleCopy:
    book: Path
    home: Path
    day: dt.date

    def cli(self, *args: str) -> str:
        """``rebalance ARGS`` against this copy; fails the test on a non-zero exit."""
        result = CliRunner().invoke(app, [*args])
        assert result.exit_code == 0, result.output
        return result.output

    def queue(self) -> pl.DataFrame:
        """The open review queue as ``rebalance review --date D`` prints it (text cells)."""
        text = self.cli("review", "--date", self.day.isoformat(), "--book", str(self.book))
        return pl.read_csv(io.StringIO(text), infer_schema=False)

    def review(self, decided: pl.DataFrame, tmp_path: Path, reviewer: str = "Dana") -> str:
        """``rebalance review --decisions FILE --reviewer NAME`` with ``decided`` as FILE."""
        path = tmp_path / "decisions.csv"
        decided.write_csv(path)
        return self.cli(
            "review",
            "--date",
            self.day.isoformat(),
            "--book",
            str(self.book),
            "--decisions",
            str(path),
            "--reviewer",
            reviewer,
            "--at",
            f"{self.day.isoformat()}T21:30:00",
        )


def sample_copy(
    materialized: tuple[Path, dt.date], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SampleCopy:
    """The sample book and its materialized home copied under ``tmp_path`` (decisions are
    recorded in the book, review batches written in the home), used as the test's own."""
    home, day = materialized
    copy = SampleCopy(tmp_path / "book", tmp_path / "home", day)
    shutil.copytree(SAMPLE, copy.book)
    shutil.copytree(home, copy.home)
    use_home(monkeypatch, copy.home, copy.book)
    return copy


def decide(queue: pl.DataFrame, decisions: dict[str, str]) -> pl.DataFrame:
    """The queue with every row of each account of ``decisions`` given its decision."""
    chosen = pl.col("account_id").replace_strict(decisions, default=None)
    return queue.with_columns(chosen.alias("decision"))
