"""The dated trade files of a batch of released trades, and their manifest.

Numbers follow ``reporting.cells``: ``quantity`` exactly (at most 6 decimal places, a whole
number as an integer), ``estimated_price`` always with 4 decimal places, rounded half up
(``1.0050``), ``estimated_amount`` the quantity times that written price, half up to cents
(7 at 1.005 -> ``7.04``). A quantity that is not a number of at most 6 places is an error.

Layout of ``<out_dir>`` (the date's folder; see ``export/README.md``)::

    <custodian>_trades_YYYYMMDD.csv   one per custodian with released trades
    manifest.json                     batch id, date, row counts and SHA-256 per file
    batch-<id>/...                    a later batch of the same date with other content
    superseded_by.json                which batch replaced which, in order
    replay-<id>/...                   a replay (re-run not for release), never replacing

Released batches (``release: true`` in the manifest) are the firm's: the date's run and
review batches (``kind``). A replay (``release: false``) recomputes the date and sits
beside them without touching them.

The batch id is a hash of the released rows, so the same inputs give the same id and
byte-identical files; writing them again is a no-op. Different content for a date that
already has a batch never overwrites it: it goes to ``batch-<id>/`` and is recorded in
``superseded_by.json``. Every file is written atomically, the manifest last: a folder
holds a batch once its manifest is there, and a write interrupted before it is redone
whole (trade files it left that the new batch does not list are removed).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from rebalance_pipeline.reporting.cells import amount_cell, price_cell, quantity_cell, safe_text
from rebalance_pipeline.storage import atomic_write_bytes

TRADE_FILE_COLUMNS = [
    "account_id",
    "security_id",
    "symbol",
    "side",
    "quantity",
    "estimated_price",
    "estimated_amount",
    "lot_id",
    "reason_code",
    "review_level",
    "batch_id",
]
# a written trade, in file order, before its batch id: numbers as reporting.cells writes
# them, texts as safe_text does
RECORD_COLUMNS = [
    "account_id",
    "security_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "amount",
    "lot_id",
    "reason",
    "review",
]
RECORD_NUMBERS = ("quantity", "price", "amount")
RECORD_TEXTS = tuple(name for name in RECORD_COLUMNS if name not in RECORD_NUMBERS)
TRADE_NAME = ("account_id", "security_id", "side")  # how an error names a trade
MANIFEST = "manifest.json"
SUPERSEDED = "superseded_by.json"
BATCH_ID_LENGTH = 16
REPLAY_PREFIX = "replay-"


@dataclasses.dataclass(frozen=True)
class TradeFile:
    name: str
    custodian: str
    rows: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    batch_id: str
    as_of: dt.date
    folder: Path
    files: list[TradeFile]
    status: str = "written"  # written | unchanged (identical batch already there) | new_batch
    supersedes: str | None = None  # the batch this one replaces (status new_batch)
    release: bool = True  # false: a replay, not for release
    kind: str = "run"  # run (the date's run) | review (trades approved in review later)
    provenance: dict | None = None  # inputs' and code's fingerprints (export.provenance)

    @property
    def total_rows(self) -> int:
        return sum(file.rows for file in self.files)

    def to_json(self) -> str:
        """The manifest file: only content-derived fields, so re-runs write the same bytes."""
        record = {
            "batch_id": self.batch_id,
            "as_of": self.as_of.isoformat(),
            "total_rows": self.total_rows,
            "supersedes": self.supersedes,
            "files": [dataclasses.asdict(file) for file in self.files],
            "release": self.release,
            "kind": self.kind,
            "provenance": self.provenance,
        }
        return json.dumps(record, indent=2, sort_keys=True) + "\n"


def write_trade_files(
    released: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
    out_dir: Path,
    as_of: dt.date,
    *,
    release: bool = True,
    kind: str = "run",
    provenance: dict | None = None,
) -> Manifest:
    """Write the date's batch of ``released`` trades (routing.route.RELEASED_TRADES).

    ``release=False`` writes a replay into ``replay-<id>/``; ``kind="review"`` a batch of
    reviewed trades that adds to the date's run batch instead of replacing it.
    """
    rows = _trade_rows(released, accounts, securities)
    records = _records(rows)
    batch_id = _batch_id(records, as_of)
    contents = _file_contents(rows, records, batch_id, as_of)
    existing = _existing_batches(out_dir) if release else _existing_replays(out_dir)
    if batch_id in existing:
        manifest = _read_manifest(existing[batch_id])
        _verify(manifest)
        if manifest.supersedes is not None:
            _record_supersession(out_dir, manifest.supersedes, batch_id)
        return dataclasses.replace(manifest, status="unchanged")
    folder, supersedes = _placement(out_dir, existing, batch_id, release, kind)
    files = [
        TradeFile(name, custodian, count, hashlib.sha256(data).hexdigest())
        for name, (custodian, count, data) in contents.items()
    ]
    manifest = Manifest(
        batch_id=batch_id,
        as_of=as_of,
        folder=folder,
        files=files,
        status="new_batch" if existing and release else "written",
        supersedes=supersedes,
        release=release,
        kind=kind,
        provenance=provenance,
    )
    folder.mkdir(parents=True, exist_ok=True)
    _remove_unlisted_trade_files(folder, set(contents))
    for name, (_, _, data) in contents.items():
        atomic_write_bytes(folder / name, data)
    atomic_write_bytes(folder / MANIFEST, manifest.to_json().encode())
    if supersedes is not None:
        _record_supersession(out_dir, supersedes, batch_id)
    return manifest


def _placement(
    out_dir: Path, existing: dict[str, Path], batch_id: str, release: bool, kind: str
) -> tuple[Path, str | None]:
    """Where a new batch goes and which batch it replaces (only a later run batch does)."""
    if not release:
        return out_dir / f"{REPLAY_PREFIX}{batch_id}", None
    if not existing:
        return out_dir, None
    folder = out_dir / f"batch-{batch_id}"
    return folder, _latest_batch(out_dir, existing) if kind == "run" else None


def _remove_unlisted_trade_files(folder: Path, names: set[str]) -> None:
    """Trade files of a write interrupted before its manifest (never part of a batch), in
    the manifest-less folder the new batch goes to: none may sit beside the batch unlisted."""
    for path in folder.glob("*_trades_*.csv"):
        if path.name not in names:
            path.unlink()


def _existing_replays(out_dir: Path) -> dict[str, Path]:
    manifests = sorted(out_dir.glob(f"{REPLAY_PREFIX}*/{MANIFEST}"))
    return {json.loads(path.read_text())["batch_id"]: path for path in manifests}


def _trade_rows(
    released: pl.DataFrame, accounts: pl.DataFrame, securities: pl.DataFrame
) -> pl.DataFrame:
    """Released trades with custodian and symbol, in the file order."""
    custodians = accounts.select("account_id", "custodian").unique("account_id")
    symbols = securities.select("security_id", "symbol").unique("security_id")
    rows = released.join(custodians, on="account_id", how="left").join(
        symbols, on="security_id", how="left"
    )
    orphans = rows.filter(pl.col("custodian").is_null())["account_id"].unique().sort()
    if len(orphans):
        raise ValueError(f"released trades of accounts without a custodian: {orphans.to_list()}")
    return rows.sort(
        "custodian", "account_id", "side", "security_id", "lot_id", "quantity", nulls_last=True
    )


def _csv_bytes(header: list[str], records: list[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return buffer.getvalue().encode("utf-8")


def _records(rows: pl.DataFrame) -> pl.DataFrame:
    """Each trade as written (RECORD_COLUMNS), but for its batch id. Each cell is written
    once per distinct value: trades repeat quantities, prices and names many times over."""
    texts = [_cells(rows, [name], [name], _text_cell) for name in RECORD_TEXTS]
    numbers = _cells(rows, ["quantity", "price"], RECORD_NUMBERS, _number_cells)
    return pl.concat([*texts, numbers], how="horizontal").select(RECORD_COLUMNS)


def _lines(records: pl.DataFrame, batch_id: str) -> list[tuple[str, ...]]:
    """The records as the file's rows, with their batch id."""
    return records.with_columns(pl.lit(batch_id, pl.String).alias("batch_id")).rows()


def _text_cell(value: str | None) -> tuple[str]:
    return (safe_text(value),)


def _number_cells(quantity: float | None, price: float | None) -> tuple[str, str, str]:
    """Quantity, price and amount of a trade as written."""
    return quantity_cell(quantity), price_cell(price), amount_cell(quantity, price)


def _cells(
    rows: pl.DataFrame,
    keys: list[str],
    names: Sequence[str],
    write: Callable[..., tuple[str, ...]],
) -> pl.DataFrame:
    """Columns ``names``: ``write`` of each row's ``keys`` values, called once per
    distinct values; a number that cannot be written exactly names the first trade that
    has it."""
    values = rows.select(keys)
    distinct = values.with_row_index("first_row").unique(keys, keep="first", maintain_order=True)
    written = []
    for first_row, *key_values in distinct.iter_rows():
        try:
            written.append(write(*key_values))
        except ValueError as exc:
            trade = " ".join(str(rows[name][first_row]) for name in TRADE_NAME)
            raise ValueError(f"trade {trade}: {exc}") from None
    cells = [f"cell_{index}" for index in range(len(names))]
    table = pl.concat(
        [
            distinct.drop("first_row"),
            pl.DataFrame(written, schema=dict.fromkeys(cells, pl.String), orient="row"),
        ],
        how="horizontal",
    )
    looked_up = values.join(table, on=keys, how="left", nulls_equal=True, maintain_order="left")
    return looked_up.select(
        pl.col(cell).alias(name) for cell, name in zip(cells, names, strict=True)
    )


def _batch_id(records: pl.DataFrame, as_of: dt.date) -> str:
    """A hash of the date and the released rows as written (with an empty batch id)."""
    content = _csv_bytes(["as_of", as_of.isoformat()], _lines(records, ""))
    return hashlib.sha256(content).hexdigest()[:BATCH_ID_LENGTH]


def _file_contents(
    rows: pl.DataFrame, records: pl.DataFrame, batch_id: str, as_of: dt.date
) -> dict[str, tuple[str, int, bytes]]:
    """File name -> (custodian, row count, bytes), one file per custodian, by name
    (``rows`` are in custodian order, ``records`` theirs)."""
    contents = {}
    spans = rows.with_row_index("row").group_by("custodian", maintain_order=True)
    for (custodian,), part in spans:
        first, count = part["row"][0], part.height
        mine = _lines(records.slice(first, count), batch_id)
        name = f"{_file_safe(custodian)}_trades_{as_of:%Y%m%d}.csv"
        contents[name] = (custodian, count, _csv_bytes(TRADE_FILE_COLUMNS, mine))
    return dict(sorted(contents.items()))


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "custodian"


def _existing_batches(out_dir: Path) -> dict[str, Path]:
    """batch id -> manifest path of every batch already written for the date."""
    manifests = [out_dir / MANIFEST, *sorted(out_dir.glob(f"batch-*/{MANIFEST}"))]
    return {json.loads(path.read_text())["batch_id"]: path for path in manifests if path.exists()}


def _read_manifest(path: Path) -> Manifest:
    record = json.loads(path.read_text())
    return Manifest(
        batch_id=record["batch_id"],
        as_of=dt.date.fromisoformat(record["as_of"]),
        folder=path.parent,
        files=[TradeFile(**file) for file in record["files"]],
        supersedes=record["supersedes"],
        release=record.get("release", True),
        kind=record.get("kind", "run"),
        provenance=record.get("provenance"),
    )


def _verify(manifest: Manifest) -> None:
    """Raise when a batch on disk no longer matches its manifest (it is never rewritten)."""
    for file in manifest.files:
        path = manifest.folder / file.name
        actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
        if actual != file.sha256:
            raise ValueError(f"{path} does not match batch {manifest.batch_id}'s manifest")


def _latest_batch(out_dir: Path, existing: dict[str, Path]) -> str | None:
    """The batch a new one replaces: the last recorded replacement, else the first batch."""
    if not existing:
        return None
    chain = _supersessions(out_dir)
    if chain:
        return chain[-1]["superseded_by"]
    return json.loads((out_dir / MANIFEST).read_text())["batch_id"]


def _supersessions(out_dir: Path) -> list[dict[str, str]]:
    path = out_dir / SUPERSEDED
    return json.loads(path.read_text()) if path.exists() else []


def _record_supersession(out_dir: Path, old: str, new: str) -> None:
    """Append ``old`` -> ``new`` to the chain unless it is there (a write interrupted after
    the new batch's manifest records it when run again)."""
    link = {"batch_id": old, "superseded_by": new}
    chain = _supersessions(out_dir)
    if link not in chain:
        payload = json.dumps([*chain, link], indent=2) + "\n"
        atomic_write_bytes(out_dir / SUPERSEDED, payload.encode())
