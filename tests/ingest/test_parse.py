"""Parsing single custodian files: values, both formats alike, faults as findings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import builtin_custodians as f
import polars as pl
import pytest
from builtin_custodians import detail_lines, file_bytes, to_text

from rebalance_pipeline import tables as t
from rebalance_pipeline.generator.render import MARK
from rebalance_pipeline.ingest.custodians import adapter
from rebalance_pipeline.ingest.custodians import alder as alder_csv
from rebalance_pipeline.ingest.custodians import birch as birch_pipe
from rebalance_pipeline.ingest.parse import parse_file, parse_files, parse_rows

DAY = dt.date(2026, 3, 16)

LOTS = pl.DataFrame(
    {
        "account_id": ["A1", "A1", "B2"],
        "lot_id": ["A1-L1", "A1-L2", "B2-L1"],
        "symbol": ["BRK.B", "TUSA", "TUSA"],
        "quantity": [1234.5, -3.0, 0.125],
        "cost_basis": [1234567.89, -250.0, 12.5],
        "acquired_date": [dt.date(2021, 1, 4), dt.date(2025, 12, 31), None],
    }
)
TRANSACTIONS = pl.DataFrame(
    {
        "transaction_id": ["T1", "T2", "T3"],
        "account_id": ["A1", "A1", "B2"],
        "trade_date": [DAY] * 3,
        "type": ["sell", "withdrawal", "buy"],
        "symbol": ["TUSA", None, "BRK.B"],
        "quantity": [10.0, None, 2000.0],
        "price": [250.1234, None, 410.0],
        "amount": [2501.23, -60000.0, -820000.0],
        "realized_gain": [-1001.5, None, None],
        "lot_id": ["A1-L2", None, "B2-L9"],
    }
)
ECONOMIC = {
    "lots": LOTS,
    "transactions": TRANSACTIONS,
    "positions": LOTS.group_by("account_id", "symbol", maintain_order=True).agg(
        pl.col("quantity").sum()
    ),
    "cash": pl.DataFrame({"account_id": ["A1", "B2"], "cash": [1_000_000.5, -12.0]}),
    "prices": pl.DataFrame(
        {"symbol": ["BRK.B", "TUSA"], "price_date": [DAY, DAY], "close": [410.25, 1999.0]}
    ),
    "corporate_actions": pl.DataFrame(
        {
            "symbol": ["SEMI", "SOCL"],
            "action": ["split", "symbol_change"],
            "effective_date": [DAY, DAY],
            "ratio": [2.0, None],
            "new_symbol": [None, "MTAX"],
        }
    ),
}


def write(root: Path, custodian: str, kind: str, frame: pl.DataFrame) -> Path:
    text = to_text(custodian, kind, frame.with_columns(pl.lit(None, pl.String).alias(MARK)))
    path = root / f.drop_path(custodian, kind, DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(file_bytes(custodian, kind, DAY, detail_lines(custodian, text)))
    return path


def write_raw(root: Path, custodian: str, kind: str, content: bytes) -> Path:
    path = root / f.drop_path(custodian, kind, DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_birch_record_values(tmp_path):
    content = (
        b"H|BIRCH|LOTS|03/16/2026|FIRM\nD|A1|BRK/B|A1-L1|02/29/2024|-|1,234.500|12,345.67\nT|1|x\n"
    )
    parsed = parse_file(
        write_raw(tmp_path, "birch", "lots", content), f.CUSTODIAN["birch"], "lots", root=tmp_path
    )
    row = parsed.rows.row(0, named=True)
    assert row == {
        "account_id": "A1",
        "lot_id": "A1-L1",
        "security_id": None,
        "symbol": "BRK.B",
        "quantity": -1234.5,
        "cost_basis": 12345.67,
        "acquired_date": dt.date(2024, 2, 29),
        "custodian": "birch",
        "source_file": "drops/2026-03-16/birch/LOTS.260316.dat",
        "source_row": 2,
    }
    assert (parsed.file_date, parsed.detail_rows, parsed.trailer_rows) == (DAY, 1, 1)
    assert parsed.trailer_checksum == "x" != parsed.computed_checksum
    assert parsed.computed_checksum == birch_pipe.trailer_checksum(
        b"D|A1|BRK/B|A1-L1|02/29/2024|-|1,234.500|12,345.67"
    )


@pytest.mark.parametrize("kind", adapter.KINDS)
def test_both_formats_parse_to_the_same_canonical_rows(tmp_path, kind):
    frames = {}
    for custodian in f.CUSTODIANS:
        parsed = parse_file(
            write(tmp_path, custodian, kind, ECONOMIC[kind]), f.CUSTODIAN[custodian], kind
        )
        assert parsed.status == "ok" and parsed.findings.is_empty()
        assert parsed.rows.schema == t.conform(parsed.rows, parsed.rows.schema).schema
        frames[custodian] = parsed.rows.drop("custodian", "source_file")
    assert frames["alder"].equals(frames["birch"])
    expected = ECONOMIC[kind].select(c for c in ECONOMIC[kind].columns)
    assert frames["alder"].select(expected.columns).equals(expected)
    assert frames["alder"]["source_row"].to_list() == list(range(2, 2 + expected.height))


def test_birch_file_is_pipe_delimited_with_grouped_amounts_and_sign_column(tmp_path):
    text = write(tmp_path, "birch", "lots", LOTS).read_text().split("\n")
    assert text[0] == "H|BIRCH|LOTS|03/16/2026|ROBO WEALTH PARTNERS"
    assert text[1] == "D|A1|BRK/B|A1-L1|01/04/2021|+|1,234.500|1,234,567.89"
    assert text[2] == "D|A1|TUSA|A1-L2|12/31/2025|-|3.000|-250.00"
    assert text[4].startswith("T|3|") and text[5] == ""
    alder = write(tmp_path, "alder", "lots", LOTS).read_text().split("\n")
    assert alder[:2] == [
        "account_id,lot_id,symbol,quantity,cost_basis,acquired_date",
        "A1,A1-L1,BRK.B,1234.500,1234567.89,2021-01-04",
    ]


@pytest.mark.parametrize(
    ("custodian", "line", "check", "column"),
    [
        ("alder", 'A1,A1-L1,TUSA,"12,3.4x",100.00,2024-01-02', "malformed_number", "quantity"),
        ("alder", "A1,A1-L1,TUSA,10.000,1.2.3,2024-01-02", "malformed_number", "cost_basis"),
        ("alder", "A1,A1-L1,TUSA,10.000,100.00,2026-02-30", "malformed_date", "acquired_date"),
        ("birch", "D|A1|TUSA|A1-L1|13/45/2026|+|10.000|100.00", "malformed_date", "acquired_date"),
        ("birch", "D|A1|TUSA|A1-L1|01/02/2024|+|10.000|12,3.4x", "malformed_number", "cost_basis"),
        ("birch", "D|A1|TUSA|A1-L1|01/02/2024|*|10.000|100.00", "malformed_number", "quantity"),
        ("birch", "D|A1|TUSA|A1-L1|01/02/2024|+|1234,5.0|100.00", "malformed_number", "quantity"),
    ],
)
def test_malformed_value_is_null_and_a_finding_naming_file_row_and_account(
    tmp_path, custodian, line, check, column
):
    good = {
        "alder": "B2,B2-L1,TUSA,1.000,2.00,2024-01-02",
        "birch": "D|B2|TUSA|B2-L1|01/02/2024|+|1.000|2.00",
    }[custodian]
    head = {"alder": ",".join(alder_csv.COLUMNS["lots"]), "birch": "H|BIRCH|LOTS|03/16/2026|F"}
    checksum = birch_pipe.trailer_checksum(f"{line}\n{good}".encode())
    tail = {"alder": [], "birch": [f"T|2|{checksum}"]}
    content = "\n".join([head[custodian], line, good, *tail[custodian]]) + "\n"
    path = write_raw(tmp_path, custodian, "lots", content.encode())
    parsed = parse_file(path, f.CUSTODIAN[custodian], "lots", root=tmp_path)
    assert parsed.rows.height == 2 and parsed.rows["account_id"].to_list() == ["A1", "B2"]
    assert parsed.rows[column][0] is None and parsed.rows[column][1] is not None
    (finding,) = parsed.findings.iter_rows(named=True)
    assert finding["check"] == check and finding["source_row"] == 2
    assert finding["account_ids"] == ["A1"] and finding["trade_date"] == DAY
    assert finding["source_file"] == f.drop_path(custodian, "lots", DAY)
    assert column in finding["message"]


def test_missing_undecodable_and_foreign_files_are_file_findings(tmp_path):
    missing = parse_file(
        tmp_path / f.drop_path("alder", "cash", DAY), f.CUSTODIAN["alder"], "cash", root=tmp_path
    )
    assert missing.status == "missing" and missing.rows.is_empty()
    assert missing.findings["check"].to_list() == ["missing_file"]

    utf16 = "account_id,cash\nA1,10.00\n".encode("utf-16")
    garbled = parse_file(write_raw(tmp_path, "alder", "cash", utf16), f.CUSTODIAN["alder"], "cash")
    assert garbled.status == "unreadable" and garbled.sha256 is not None
    assert garbled.findings["check"].to_list() == ["wrong_encoding"]

    foreign = write_raw(tmp_path, "birch", "cash", b"H|BIRCH|LOTS|03/16/2026|F\nT|0|x\n")
    wrong_kind = parse_file(foreign, f.CUSTODIAN["birch"], "cash")
    assert wrong_kind.status == "unreadable"
    assert wrong_kind.findings["check"].to_list() == ["unreadable_file"]
    assert wrong_kind.findings.schema == t.FINDINGS


def test_truncated_files_keep_the_rows_read(tmp_path):
    birch = b"H|BIRCH|CASH|03/16/2026|F\nD|A1|1.00\nD|A2|2.00\n"
    parsed = parse_file(write_raw(tmp_path, "birch", "cash", birch), f.CUSTODIAN["birch"], "cash")
    assert (parsed.detail_rows, parsed.trailer_rows, parsed.trailer_checksum) == (2, None, None)
    assert parsed.computed_checksum == birch_pipe.trailer_checksum(b"D|A1|1.00\nD|A2|2.00")

    alder = (
        b"account_id,lot_id,symbol,quantity,cost_basis,acquired_date\n"
        b"A1,A1-L1,TUSA,1.000,1.00,2024-01-02\nA2,A"
    )
    parsed = parse_file(write_raw(tmp_path, "alder", "lots", alder), f.CUSTODIAN["alder"], "lots")
    assert parsed.rows["account_id"].to_list() == ["A1", "A2"]
    assert parsed.rows.row(1, named=True)["quantity"] is None
    assert parsed.rows["source_row"].to_list() == [2, 3]


def test_alder_lines_without_quotes_split_as_the_csv_reader_splits_them():
    """Polars splits an unquoted body; the CSV reader (taken when a quote, carriage return
    or NUL appears) must give the same records: blank lines skipped, an empty first field
    kept, ragged rows whole."""
    from rebalance_pipeline.ingest.custodians.alder import AlderCsv, csv_records

    body = "A1,SEC-A,10\n\n,SEC-B,\nA2,SEC-C,1,001,403.67\nA3\n\n"
    fast = AlderCsv().raw_lines("header\n" + body)
    assert fast.equals(csv_records(body))
    assert fast["source_row"].to_list() == [2, 4, 5, 6]
    assert fast["fields"].to_list()[1:3] == [
        ["", "SEC-B", ""],
        ["A2", "SEC-C", "1", "001", "403.67"],
    ]


def _lots_content(custodian: str, day: dt.date, lines: list[str]) -> bytes:
    if custodian == "alder":
        return "\n".join([",".join(alder_csv.COLUMNS["lots"]), *lines, ""]).encode()
    trailer = f"T|{len(lines)}|{birch_pipe.trailer_checksum(chr(10).join(lines).encode())}"
    return "\n".join([f"H|BIRCH|LOTS|{day:%m/%d/%Y}|F", *lines, trailer, ""]).encode()


@pytest.mark.parametrize("custodian", f.CUSTODIANS)
def test_files_parsed_together_give_what_each_gives_alone(tmp_path, custodian):
    """One typing pass over several files: every row, finding and file figure stays the
    file's own (the clean file first, so a finding pinned on the wrong file shows)."""
    lines = {
        "alder": {
            "good": "B2,B2-L1,TUSA,1.000,2.00,2024-01-02",
            "bad_number": "A1,A1-L1,TUSA,10.000,1.2.3,2024-01-02",
            "ragged": "A3,A3-L1,TUSA,10.000,1,001,403.67,2024-01-02",
            "bad_date": "A4,A4-L1,TUSA,10.000,100.00,2026-02-30",
        },
        "birch": {
            "good": "D|B2|TUSA|B2-L1|01/02/2024|+|1.000|2.00",
            "bad_number": "D|A1|TUSA|A1-L1|01/02/2024|+|10.000|12,3.4x",
            "ragged": "D|A3|TUSA|A3-L1|01/02/2024|+|10.000|100.00|X",
            "bad_date": "D|A4|TUSA|A4-L1|13/45/2026|+|10.000|100.00",
        },
    }[custodian]
    files = {
        0: [lines["good"]],
        1: [lines["good"], lines["bad_number"]],
        2: None,  # not delivered
        3: [lines["ragged"], lines["good"], lines["bad_date"]],
    }
    paths = []
    for offset, file_lines in files.items():
        day = DAY - dt.timedelta(days=offset)
        path = tmp_path / f.drop_path(custodian, "lots", day)
        if file_lines is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_lots_content(custodian, day, file_lines))
        paths.append(path)

    together = parse_files(paths, f.CUSTODIAN[custodian], "lots", root=tmp_path)

    for joint, path in zip(together, paths, strict=True):
        alone = parse_file(path, f.CUSTODIAN[custodian], "lots", root=tmp_path)
        assert joint.rows.equals(alone.rows) and joint.findings.equals(alone.findings)
        assert joint.source_file_record(None) == alone.source_file_record(None)
        assert set(joint.findings["source_file"]) <= {alone.source_file}
    checks = [sorted(parsed.findings["check"]) for parsed in together]
    assert checks == [
        [],
        ["malformed_number"],
        ["missing_file"],
        ["malformed_date", "malformed_row"],
    ]
    assert [parsed.rows.height for parsed in together] == [1, 2, 0, 3]


@pytest.mark.parametrize("custodian", f.CUSTODIANS)
def test_the_rows_of_a_file_wanted_for_a_few_lots_are_those_the_whole_file_gives(
    tmp_path, custodian
):
    path = write(tmp_path, custodian, "lots", LOTS)
    keep = pl.DataFrame({"account_id": ["A1", "B2", "Z9"], "lot_id": ["A1-L2", "B2-L1", "A1-L1"]})

    wanted = parse_rows(path, f.CUSTODIAN[custodian], "lots", keep, root=tmp_path)

    whole = parse_file(path, f.CUSTODIAN[custodian], "lots", root=tmp_path).rows
    assert wanted.equals(whole.join(keep, on=["account_id", "lot_id"], how="semi"))
    assert wanted["lot_id"].to_list() == ["A1-L2", "B2-L1"]


@pytest.mark.parametrize("custodian", f.CUSTODIANS)
@pytest.mark.parametrize(
    "keep",
    [
        pl.DataFrame(schema={"account_id": pl.String, "lot_id": pl.String}),
        pl.DataFrame({"account_id": ["A1", None], "lot_id": [None, "B2-L1"]}),
        pl.DataFrame({"account_id": ["A1"], "lot_id": ["A1-L"]}),  # a prefix of two lot ids
        pl.DataFrame({"account_id": ["A1", "A1"], "lot_id": ["A1-L1", "A1-L1"]}),
    ],
    ids=["no-lots", "nulls", "prefix", "twice"],
)
def test_lots_wanted_by_edge_case_keys_are_those_the_whole_file_gives(tmp_path, custodian, keep):
    path = write(tmp_path, custodian, "lots", LOTS)

    wanted = parse_rows(path, f.CUSTODIAN[custodian], "lots", keep, root=tmp_path)

    whole = parse_file(path, f.CUSTODIAN[custodian], "lots", root=tmp_path).rows
    assert wanted.equals(whole.join(keep, on=["account_id", "lot_id"], how="semi"))


@pytest.mark.parametrize(
    ("content", "details", "trailer_line", "body"),
    [
        # non-ASCII text before the trailer: the checksum is over the bytes as written
        (
            "H|BIRCH|CASH|03/16/2026|F\nD|Ä1|1.00\nD|A2|2.00\nT|2|{sum}\n",
            "D|Ä1|1.00\nD|A2|2.00",
            4,
            "D|Ä1|1.00\nD|A2|2.00",
        ),
        # a detail whose account starts with T is no trailer; no line end after the trailer
        (
            "H|BIRCH|CASH|03/16/2026|F\nD|A1|1.00\nTX|A2|2.00\nT|2|{sum}",
            "D|A1|1.00\nTX|A2|2.00",
            4,
            "D|A1|1.00\nTX|A2|2.00",
        ),
        # a bare T line is a trailer, with a line after it
        ("H|BIRCH|CASH|03/16/2026|F\nD|A1|1.00\nT\nD|A2|2.00\n", "D|A1|1.00", 3, "D|A1|1.00"),
        ("H|BIRCH|CASH|03/16/2026|F\nT|0|{sum}\n", "", 2, None),
        ("H|BIRCH|CASH|03/16/2026|F\nD|A1|1.00\n", "D|A1|1.00", None, "D|A1|1.00"),
        ("H|BIRCH|CASH|03/16/2026|F\n", "", None, None),
        ("H|BIRCH|CASH|03/16/2026|F", "", None, None),
    ],
)
def test_a_birch_envelope_is_read_around_its_detail_block(content, details, trailer_line, body):
    checksum = birch_pipe.trailer_checksum(details.encode())
    data = content.replace("{sum}", checksum).encode()

    read, envelope = birch_pipe.BirchPipe().read_body(data, "cash")

    assert read == body
    assert envelope.computed_checksum == checksum
    assert envelope.last_line == data.rstrip(b"\n").count(b"\n") + 1
    if trailer_line is None:
        assert envelope.trailer is None
    else:
        assert envelope.trailer == data.decode().split("\n")[trailer_line - 1]
        assert envelope.lines_after_trailer == envelope.last_line - trailer_line
