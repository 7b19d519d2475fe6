"""Dated trade files: layout, content-derived batch ids, no silent overwrite, safe cells."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest

from rebalance_pipeline import tables as t
from rebalance_pipeline.export.trade_files import write_trade_files
from rebalance_pipeline.routing.route import RELEASED_TRADES

AS_OF = dt.date(2026, 3, 16)
ACCOUNTS = t.conform(
    pl.DataFrame({"account_id": ["A1", "A2", "B1"], "custodian": ["alpha", "alpha", "beta"]}),
    t.ACCOUNTS,
)
SECURITIES = t.conform(
    pl.DataFrame({"security_id": ["SEC-A", "SEC-B"], "symbol": ["AAA", "-BBB"]}), t.SECURITIES
)


def released(rows=None):
    rows = rows or [
        ("B1", "SEC-A", "buy", 3.0, 101.234, None),
        ("A1", "SEC-B", "sell", 12.5, 40.0, "A1-L1"),
        ("A1", "SEC-A", "buy", 2.0, 100.0, None),
        ("A2", "SEC-A", "sell", 0.0001, 100.0, "@lot"),
    ]
    frame = pl.DataFrame(
        rows,
        schema=["account_id", "security_id", "side", "quantity", "price", "lot_id"],
        orient="row",
    ).with_columns(
        (pl.col("quantity") * pl.col("price")).alias("amount"),
        pl.lit("SCORE").alias("route"),
        pl.lit("score_above_threshold").alias("reason"),
        pl.lit("auto").alias("review"),
    )
    return t.conform(frame, RELEASED_TRADES)


def snapshot(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_layout_and_manifest(tmp_path):
    manifest = write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "alpha_trades_20260316.csv",
        "beta_trades_20260316.csv",
        "manifest.json",
    ]
    alpha = (tmp_path / "alpha_trades_20260316.csv").read_text().splitlines()
    bid = manifest.batch_id
    assert alpha == [
        "account_id,security_id,symbol,side,quantity,estimated_price,estimated_amount,"
        "lot_id,reason_code,review_level,batch_id",
        f"A1,SEC-A,AAA,buy,2,100.0000,200.00,,score_above_threshold,auto,{bid}",
        f"A1,SEC-B,'-BBB,sell,12.5,40.0000,500.00,A1-L1,score_above_threshold,auto,{bid}",
        f"A2,SEC-A,AAA,sell,0.0001,100.0000,0.01,'@lot,score_above_threshold,auto,{bid}",
    ]
    beta = (tmp_path / "beta_trades_20260316.csv").read_text().splitlines()
    assert beta[1] == f"B1,SEC-A,AAA,buy,3,101.2340,303.70,,score_above_threshold,auto,{bid}"
    record = json.loads((tmp_path / "manifest.json").read_text())
    assert record["batch_id"] == bid
    assert record["as_of"] == "2026-03-16"
    assert record["total_rows"] == 4
    for file in record["files"]:
        content = (tmp_path / file["name"]).read_bytes()
        assert file["sha256"] == hashlib.sha256(content).hexdigest()
        assert file["rows"] == len(content.splitlines()) - 1
    assert manifest.status == "written"


def test_same_input_gives_same_batch_and_bytes(tmp_path):
    first = write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path / "one", AS_OF)
    again = write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path / "one", AS_OF)
    shuffled = released().sample(fraction=1.0, shuffle=True, seed=7)
    other = write_trade_files(shuffled, ACCOUNTS, SECURITIES, tmp_path / "two", AS_OF)
    assert again.status == "unchanged"
    assert first.batch_id == again.batch_id == other.batch_id
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")


def test_different_content_writes_a_new_batch_and_never_overwrites(tmp_path):
    first = write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    before = snapshot(tmp_path)
    changed = released([("A1", "SEC-A", "buy", 5.0, 100.0, None)])
    second = write_trade_files(changed, ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert second.batch_id != first.batch_id
    assert second.status == "new_batch"
    assert second.supersedes == first.batch_id
    assert second.folder == tmp_path / f"batch-{second.batch_id}"
    after = snapshot(tmp_path)
    assert {name: after[name] for name in before} == before
    assert json.loads(after["superseded_by.json"]) == [
        {"batch_id": first.batch_id, "superseded_by": second.batch_id}
    ]
    new_file = after[f"batch-{second.batch_id}/alpha_trades_20260316.csv"].decode()
    assert f"A1,SEC-A,AAA,buy,5,100.0000,500.00,,score_above_threshold,auto,{second.batch_id}" in (
        new_file
    )
    # writing the first content again is a no-op on the original batch
    assert write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path, AS_OF).status == (
        "unchanged"
    )
    third = write_trade_files(released()[:1], ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert third.supersedes == second.batch_id


def test_a_tampered_batch_is_reported_not_rewritten(tmp_path):
    write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    (tmp_path / "beta_trades_20260316.csv").write_text("edited\n")
    with pytest.raises(ValueError, match="does not match batch"):
        write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert (tmp_path / "beta_trades_20260316.csv").read_text() == "edited\n"


def test_trades_of_an_account_without_custodian_are_an_error(tmp_path):
    orphan = released([("ZZ", "SEC-A", "buy", 1.0, 1.0, None)])
    with pytest.raises(ValueError, match=r"without a custodian: \['ZZ'\]"):
        write_trade_files(orphan, ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert list(tmp_path.iterdir()) == []


def test_no_released_trades_still_writes_a_manifest(tmp_path):
    manifest = write_trade_files(t.empty(RELEASED_TRADES), ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert manifest.files == []
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_every_amount_is_the_quantity_times_the_written_price(tmp_path):
    trades = released(
        [
            ("A1", "SEC-A", "buy", 7.0, 1.005, None),
            ("A1", "SEC-B", "sell", 0.1 + 0.2, 10.005, "A1-L1"),
            ("A2", "SEC-A", "buy", 1000.0, 0.0345, None),
            ("A2", "SEC-B", "buy", 1000.0, 1.23456, None),
            ("B1", "SEC-A", "buy", 0.0, 99.999999, None),
        ]
    )
    manifest = write_trade_files(trades, ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    rows = [
        row
        for file in manifest.files
        for row in csv.DictReader((tmp_path / file.name).open(newline=""))
    ]
    written = [(r["quantity"], r["estimated_price"], r["estimated_amount"]) for r in rows]
    assert written == [
        ("7", "1.0050", "7.04"),
        ("0.3", "10.0050", "3.00"),
        ("1000", "0.0345", "34.50"),
        ("1000", "1.2346", "1234.60"),
        ("0", "100.0000", "0.00"),
    ]
    for quantity, price, amount in written:
        cents = (Decimal(quantity) * Decimal(price)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert Decimal(amount) == cents


def test_a_quantity_off_the_precision_is_an_error_and_nothing_is_written(tmp_path):
    third = released([("A1", "SEC-A", "buy", 1 / 3, 100.0, None)])
    with pytest.raises(ValueError, match=r"A1 SEC-A buy: quantity 0\.333"):
        write_trade_files(third, ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert list(tmp_path.iterdir()) == []


def test_a_write_interrupted_before_its_manifest_leaves_no_unlisted_trade_file(tmp_path):
    """A run killed after one custodian's file and before the manifest, whose re-run has no
    trades at that custodian: the stale file must not sit beside the new batch."""
    stale = tmp_path / f"gamma_trades_{AS_OF:%Y%m%d}.csv"
    stale.write_text("account_id\nC1\n")
    manifest = write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert manifest.folder == tmp_path
    listed = {file.name for file in manifest.files}
    assert {p.name for p in tmp_path.glob("*.csv")} == listed


def test_a_new_batch_interrupted_before_its_supersession_record_is_completed_by_the_rerun(
    tmp_path, monkeypatch
):
    from rebalance_pipeline.export import trade_files

    first = write_trade_files(released(), ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    changed = released([("A1", "SEC-A", "buy", 5.0, 100.0, None)])

    def killed(*args):
        raise KeyboardInterrupt("the run dies between the manifest and superseded_by.json")

    with monkeypatch.context() as patch:
        patch.setattr(trade_files, "_record_supersession", killed)
        with pytest.raises(KeyboardInterrupt):
            write_trade_files(changed, ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    again = write_trade_files(changed, ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert again.status == "unchanged" and again.supersedes == first.batch_id
    assert json.loads((tmp_path / "superseded_by.json").read_text()) == [
        {"batch_id": first.batch_id, "superseded_by": again.batch_id}
    ]
    third = write_trade_files(released()[:1], ACCOUNTS, SECURITIES, tmp_path, AS_OF)
    assert third.supersedes == again.batch_id


def _written_rows(manifest, folder):
    return [
        row
        for file in manifest.files
        for row in csv.reader((folder / file.name).open(newline=""))
        if row[0] != "account_id"
    ]


def test_repeated_and_missing_values_are_written_as_each_row_alone(tmp_path):
    """Cells are written once per distinct value: repeated quantities and prices, a
    missing lot and symbol, a formula-like text and a negative zero each come out as the
    same trade written on its own."""
    securities = t.conform(
        pl.DataFrame({"security_id": ["SEC-A", "SEC-B"], "symbol": ["=AAA", None]}), t.SECURITIES
    )
    rows = [
        ("A1", "SEC-A", "buy", 7.0, 1.005, None),
        ("A1", "SEC-B", "sell", 7.0, 1.005, "+L1"),
        ("A2", "SEC-A", "buy", 7.0, 2.5, None),
        ("A2", "SEC-B", "sell", -0.0, 1.005, "+L1"),
        ("B1", "SEC-A", "buy", 0.1 + 0.2, 1.005, None),
    ]
    together = _written_rows(
        write_trade_files(released(rows), ACCOUNTS, securities, tmp_path / "all", AS_OF),
        tmp_path / "all",
    )
    alone = [
        written[:-1]
        for index, row in enumerate(rows)
        for written in _written_rows(
            write_trade_files(released([row]), ACCOUNTS, securities, tmp_path / str(index), AS_OF),
            tmp_path / str(index),
        )
    ]
    assert [written[:-1] for written in together] == alone
    assert together[0][:8] == ["A1", "SEC-A", "'=AAA", "buy", "7", "1.0050", "7.04", ""]
    assert together[3][2:8] == ["", "sell", "0", "1.0050", "0.00", "'+L1"]


def test_an_unwritable_quantity_names_the_first_trade_that_has_it(tmp_path):
    third = 1 / 3
    trades = released(
        [
            ("A1", "SEC-A", "buy", 2.0, 100.0, None),
            ("A2", "SEC-B", "buy", third, 100.0, None),
            ("B1", "SEC-A", "buy", third, 100.0, None),
        ]
    )
    with pytest.raises(ValueError, match=r"^trade A2 SEC-B buy: quantity 0\.333"):
        write_trade_files(trades, ACCOUNTS, SECURITIES, tmp_path, AS_OF)
