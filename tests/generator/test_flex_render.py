"""The Flex Query XML writer: generated custodian-day frames written and read back by the
Flex reader, and each Flex fault found by the check that must catch it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rebalance_pipeline.generator import generate
from rebalance_pipeline.generator.config import GeneratorConfig
from rebalance_pipeline.generator.flex_render import (
    MALFORMED_DATETIME,
    append_status_message,
    remove_statement,
    render_flex,
    restamp_statements,
    truncate_download,
)
from rebalance_pipeline.generator.render import MARK
from rebalance_pipeline.ingest.custodians import alder
from rebalance_pipeline.ingest.custodians.ibkr_flex import read_flex

CONFIG = GeneratorConfig(accounts=40, households=15, days=6, warmup_days=3, seed=1, fault_rate=0)
# the canonical columns every custodian file of the generator carries
COMPARED = {kind: list(columns) for kind, columns in alder.COLUMNS.items()}


@pytest.fixture(scope="module")
def generated_days(tmp_path_factory) -> list[tuple[dt.date, dict[str, pl.DataFrame]]]:
    """The frames the generator builds for each custodian (alder sends sells' gains, birch
    does not), every drop day of a clean book."""
    days = []
    build = generate.day_files

    def keep(state, market, day, transactions, accounts, custodians):
        files = build(state, market, day, transactions, accounts, custodians)
        days.extend((day, {k: v.clone() for k, v in f.frames.items()}) for f in files.values())
        return files

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(generate, "day_files", keep)
        generate.generate_book(CONFIG, tmp_path_factory.mktemp("flex"))
    return days


def _expected(kind: str, frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """What a Flex file must give back of ``kind``: the canonical rows, except that a buy
    names no lot, only sells carry a gain, and only held symbols are priced."""
    frame = frames[kind]
    if kind == "transactions":
        sell = pl.col("type") == "sell"
        frame = frame.with_columns(
            lot_id=pl.when(sell).then(pl.col("lot_id")),
            realized_gain=pl.when(sell).then(pl.col("realized_gain")),
        )
    if kind == "prices":
        frame = frame.join(frames["positions"].select("symbol").unique(), on="symbol", how="semi")
    return frame.select(COMPARED[kind])


def _sorted(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
    return frame.select(COMPARED[kind]).sort(COMPARED[kind], nulls_last=True)


@pytest.mark.parametrize("kind", list(COMPARED))
def test_generated_frames_read_back_as_written(generated_days, kind):
    for day, frames in generated_days:
        reading = read_flex(render_flex(day, frames).content, kind)
        assert reading.row_findings.is_empty()
        assert reading.file_findings == ()
        assert reading.declared_date == day
        assert_frame_equal(
            _sorted(reading.rows, kind), _sorted(_expected(kind, frames), kind), check_dtypes=False
        )


def test_the_book_exercises_sells_of_lots_and_corporate_actions(generated_days):
    """The round trip above covers a sell naming its lot, a split and a symbol change."""
    transactions = pl.concat([frames["transactions"] for _, frames in generated_days])
    actions = pl.concat([frames["corporate_actions"] for _, frames in generated_days])
    sells = transactions.filter((pl.col("type") == "sell") & pl.col("lot_id").is_not_null())
    assert sells.height and sells["realized_gain"].null_count() not in (0, sells.height)
    assert {"buy", "deposit", "withdrawal", "dividend"} <= set(transactions["type"])
    assert set(actions["action"]) == {"split", "symbol_change"}


def test_same_frames_same_bytes(generated_days):
    day, frames = generated_days[-1]
    assert render_flex(day, frames).content == render_flex(day, dict(frames)).content


def _healthy(generated_days) -> tuple[dt.date, dict[str, pl.DataFrame], bytes]:
    day, frames = generated_days[-1]
    return day, frames, render_flex(day, frames).content


def _checks(content: bytes, kind: str = "positions") -> list[str]:
    return [check for check, _ in read_flex(content, kind).file_findings]


def test_a_truncated_download_is_a_truncated_file(generated_days):
    _, _, content = _healthy(generated_days)
    for seed in range(5):
        assert _checks(truncate_download(content, np.random.default_rng(seed))) == [
            "truncated_file"
        ]


def test_a_missing_statement_is_a_truncated_file(generated_days):
    _, frames, content = _healthy(generated_days)
    account = frames["cash"]["account_id"][1]
    spoiled = remove_statement(content, account)
    assert _checks(spoiled, "cash") == ["truncated_file"]
    assert account not in read_flex(spoiled, "cash").rows["account_id"].to_list()


def test_a_stale_file_declares_the_day_before(generated_days):
    day, _, content = _healthy(generated_days)
    before = day - dt.timedelta(days=1)
    reading = read_flex(restamp_statements(content, before), "lots")
    assert reading.declared_date == before
    assert reading.row_findings.is_empty()


def test_a_stale_statement_is_a_finding_of_its_account_only(generated_days):
    day, frames, content = _healthy(generated_days)
    account = frames["cash"]["account_id"][2]
    spoiled = restamp_statements(content, day - dt.timedelta(days=3), account)
    reading = read_flex(spoiled, "transactions")
    assert reading.declared_date == day
    found = reading.row_findings
    assert found.select("check", "account_ids").rows() == [("stale_statement", [account])]


def test_a_status_message_after_the_file_is_content_after_the_trailer(generated_days):
    _, _, content = _healthy(generated_days)
    assert _checks(append_status_message(content)) == ["content_after_trailer"]


def test_an_overridden_date_time_is_a_malformed_date_of_its_account_on_its_line(generated_days):
    day, frames, _ = _healthy(generated_days)
    lots = frames["lots"]
    account, lot = lots.row(3, named=True)["account_id"], lots.row(3, named=True)["lot_id"]
    marked = dict(frames) | {
        "lots": lots.with_columns(
            pl.when(pl.col("lot_id") == lot).then(pl.lit("F1")).otherwise(pl.col(MARK)).alias(MARK)
        )
    }
    written = render_flex(day, marked, {"F1": ("acquired_date", MALFORMED_DATETIME)})
    found = read_flex(written.content, "lots").row_findings
    assert found.select("source_row", "account_ids", "check", "column").rows() == [
        (written.lines["F1"], [account], "malformed_date", "acquired_date")
    ]
    line = written.content.decode().split("\n")[written.lines["F1"] - 1]
    assert f'originatingTransactionID="{lot}"' in line
    assert f'openDateTime="{MALFORMED_DATETIME}"' in line
