"""The review screen's web app on a copy of the sample date (Starlette's TestClient)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from sample_review import SampleCopy, sample_copy
from starlette.testclient import TestClient
from typer.testing import CliRunner

from rebalance_pipeline.cli import app as cli_app
from rebalance_pipeline.review.records import read_decision_records
from rebalance_pipeline.review_screen.desk import ReviewDesk
from rebalance_pipeline.review_screen.web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture
def copy(
    materialized_sample: tuple[Path, dt.date], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> SampleCopy:
    return sample_copy(materialized_sample, tmp_path, monkeypatch)


def client_of(copy: SampleCopy, token: str | None = None) -> TestClient:
    return TestClient(create_app(ReviewDesk(copy.book, copy.home, copy.day), token=token))


def csrf(client: TestClient) -> dict[str, str]:
    """The CSRF header a page of the app sends back (its cookie, set by the first GET)."""
    if "csrftoken" not in client.cookies:
        assert client.get("/").status_code == 200
    return {"x-csrftoken": client.cookies["csrftoken"]}


def trades_of(copy: SampleCopy, account: str) -> pl.DataFrame:
    queue = copy.queue()
    return queue.filter(pl.col("account_id") == account)


def trade_form(row: dict, decision: str, **extra: str) -> dict[str, str]:
    return {
        "security_id": row["security_id"],
        "side": row["side"],
        "lot_id": row["lot_id"] or "",
        "decision": decision,
        **extra,
    }


def test_a_post_without_the_csrf_token_is_refused_and_records_nothing(copy) -> None:
    client = client_of(copy)
    account = copy.queue()["account_id"][0]
    client.get("/")
    refused = client.post(f"/accounts/{account}/decide", data={"decision": "approve"})
    assert refused.status_code == 403
    forged = client.post(
        f"/accounts/{account}/decide",
        data={"decision": "approve"},
        headers={"x-csrftoken": "forged"},
    )
    assert forged.status_code == 403
    release = client.post("/release", data={"reviewer": "Mallory"})
    assert release.status_code == 403
    assert read_decision_records(copy.book, copy.day).is_empty()


def test_a_token_is_required_on_every_request_when_given(copy) -> None:
    client = client_of(copy, token="s3cret")
    assert client.get("/").status_code == 401
    assert client.get("/static/htmx.min.js").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    opened = client.get("/?token=s3cret", follow_redirects=False)
    assert opened.status_code == 303 and "review_token" in opened.cookies
    assert client.get("/").status_code == 200  # the cookie carries the token from now on
    account = copy.queue()["account_id"][0]
    decided = client.post(
        f"/accounts/{account}/decide", data={"decision": "approve"}, headers=csrf(client)
    )
    assert decided.status_code == 200


def test_a_local_app_refuses_requests_for_another_host(copy) -> None:
    """A page of another site whose name resolves to 127.0.0.1 cannot use the app."""
    desk = ReviewDesk(copy.book, copy.home, copy.day)
    app = create_app(desk, allowed_hosts=["127.0.0.1", "localhost"])
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/").status_code == 200
    assert TestClient(app, base_url="http://rebound.example:8765").get("/").status_code == 400


def test_serving_off_localhost_without_a_token_is_refused(copy) -> None:
    result = CliRunner().invoke(
        cli_app,
        [
            "review",
            "serve",
            "--date",
            copy.day.isoformat(),
            "--book",
            str(copy.book),
            "--host",
            "0.0.0.0",
        ],
        env={"REBALANCE_REVIEW_TOKEN": ""},
    )
    assert result.exit_code == 1
    assert "--host 0.0.0.0 is reachable from other machines: give --token" in result.output


@pytest.mark.parametrize("account", ["NOPE", "..%2F..%2Fetc", "A000014' OR '1'='1"])
def test_an_account_not_in_the_queue_is_404(copy, account) -> None:
    client = client_of(copy)
    headers = csrf(client)
    assert client.get(f"/accounts/{account}").status_code == 404
    assert client.get(f"/accounts/{account}/explain").status_code == 404
    posted = client.post(
        f"/accounts/{account}/decide", data={"decision": "approve"}, headers=headers
    )
    assert posted.status_code == 404


def test_a_trade_not_in_the_queue_is_404(copy) -> None:
    client = client_of(copy)
    account = copy.queue()["account_id"][0]
    row = dict(trade_form(trades_of(copy, account).row(0, named=True), "approve"))
    row["security_id"] = "SEC-NOT-QUEUED"
    posted = client.post(f"/accounts/{account}/trades/decide", data=row, headers=csrf(client))
    assert posted.status_code == 404


def test_decisions_are_recorded_and_released_as_one_batch(copy) -> None:
    client = client_of(copy)
    headers = csrf(client)
    first, second, third = copy.queue()["account_id"].unique(maintain_order=True).to_list()[:3]
    trades = trades_of(copy, second).to_dicts()
    modified, rejected = [row for row in trades if row["side"] == "buy"][:2]  # cash stays >= 0
    path = f"/accounts/{second}/trades/decide"
    client.post(path, data=trade_form(modified, "modify", new_quantity="1", note="trim"),
                headers=headers)  # fmt: skip
    page = client.post(path, data=trade_form(rejected, "reject"), headers=headers)
    assert "partly decided" in page.text
    client.post(f"/accounts/{second}/decide", data={"decision": "approve"}, headers=headers)
    client.post(f"/accounts/{first}/decide", data={"decision": "approve"}, headers=headers)
    third_trade = trades_of(copy, third).row(0, named=True)
    client.post(f"/accounts/{third}/trades/decide", data=trade_form(third_trade, "approve"),
                headers=headers)  # fmt: skip

    refused = client.post("/release", data={"reviewer": " "}, headers=headers)
    assert "a reviewer name is required" in refused.text
    released = client.post("/release", data={"reviewer": "Dana"}, headers=headers)
    assert released.status_code == 200
    assert f"{third} was partly decided" in released.text

    records = read_decision_records(copy.book, copy.day)
    assert set(records["reviewer"]) == {"Dana"}
    assert set(records["account_id"]) == {first, second, third}
    trim = records.filter(pl.col("decision") == "modify").row(0, named=True)
    assert (trim["security_id"], trim["new_quantity"], trim["note"]) == (
        modified["security_id"], 1.0, "trim",
    )  # fmt: skip

    manifests = sorted((copy.home / "trades" / copy.day.isoformat()).glob("batch-*/manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["kind"] == "review" and manifest["batch_id"] in released.text
    rows = pl.concat(
        [
            pl.read_csv(manifests[0].parent / file["name"], infer_schema=False)
            for file in manifest["files"]
        ]
    )
    assert set(rows["account_id"]) == {first, second}, released.text  # third still queued
    mine = rows.filter(pl.col("account_id") == second)
    assert mine.height == len(trades) - 1  # the rejected trade is not released
    cut = mine.filter(
        (pl.col("security_id") == modified["security_id"]) & (pl.col("side") == modified["side"])
    )
    assert cut["quantity"].to_list() == ["1"]
    assert rows.filter(pl.col("account_id") == first).height == trades_of_count(copy, first)
    assert third in client.get("/").text  # still open
    assert f'id="account-{first}"' not in client.get("/").text  # settled: no longer queued


def test_a_release_the_compliance_rules_refuse_keeps_the_account_queued(copy) -> None:
    """Cutting every sell of an account that buys leaves its cash negative."""
    client = client_of(copy)
    headers = csrf(client)
    account = next(
        key[0]
        for key, trades in copy.queue().group_by("account_id", maintain_order=True)
        if set(trades["side"]) == {"buy", "sell"}
    )
    for row in trades_of(copy, account).filter(pl.col("side") == "sell").to_dicts():
        form = trade_form(row, "modify", new_quantity="0.5")
        client.post(f"/accounts/{account}/trades/decide", data=form, headers=headers)
    client.post(f"/accounts/{account}/decide", data={"decision": "approve"}, headers=headers)
    released = client.post("/release", data={"reviewer": "Dana"}, headers=headers)
    assert f"{account}: negative_cash: cash" in released.text
    assert "nothing new released" in released.text
    assert f'id="account-{account}"' in released.text  # still in the queue


def trades_of_count(copy: SampleCopy, account: str) -> int:
    from rebalance_pipeline import storage

    queue = storage.read_partition("review_queue", copy.day, copy.home)
    return queue.filter(pl.col("account_id") == account).height
