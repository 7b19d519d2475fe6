"""Dagster resources: the warehouse IO manager and where the book's files are."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from rebalance_pipeline import storage
from rebalance_pipeline.partitions import partition_date
from rebalance_pipeline.policy import Policy, PolicyError, book_policy


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Polars frames as atomic Parquet files, one per asset per business-day partition."""

    home: str = ""

    def _root(self) -> Path:
        return Path(self.home).resolve() if self.home else storage.home()

    def _table(self, context: dg.OutputContext | dg.InputContext) -> str:
        return "__".join(context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if obj is None:
            return
        day = partition_date(context.partition_key)
        path = storage.write_partition(obj, self._table(context), day, self._root())
        context.add_output_metadata({"rows": obj.height, "path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        day = partition_date(context.asset_partition_key)
        return storage.read_partition(self._table(context), day, self._root())


class BookSource(dg.ConfigurableResource):
    """The firm's book on disk: ``firm/`` effective-dated inputs and ``drops/`` from custodians."""

    root: str = ""

    def path(self) -> Path:
        return Path(self.root).resolve() if self.root else storage.book_root()

    def policy(self, as_of: dt.date) -> Policy:
        """The policy in force on ``as_of``; a bad policy file fails the step with the
        error's one line as the failure Dagster shows."""
        try:
            return book_policy(self.path(), as_of)
        except PolicyError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None

    def home(self) -> Path:
        return storage.home()


class ReleaseMode(dg.ConfigurableResource):
    """Whether a run of a date releases its trades (export/release.py).

    ``auto`` releases the book's latest drop date while it has no released batch and
    replays every other date; ``release`` (an operator's explicit ``rebalance run
    --release``, with who and when) and ``replay`` (``rebalance backfill``) decide it.
    """

    mode: str = "auto"  # auto | release | replay
    operator: str = ""
    requested_at: str = ""
