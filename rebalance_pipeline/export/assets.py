"""Export wiring: the date's trade files and manifest."""

import dagster as dg
import polars as pl

from rebalance_pipeline.partitions import business_day_partitions, partition_date
from rebalance_pipeline.resources import BookSource


@dg.asset(
    ins={name: dg.AssetIn(key=name) for name in ("released_trades", "accounts", "securities")},
    partitions_def=business_day_partitions(),
    io_manager_key="warehouse",
    group_name="export",
    kinds={"csv"},
    description="One CSV per custodian of the released trades plus manifest.json, under "
    "$REBALANCE_HOME/trades/YYYY-MM-DD/; the stored table lists the files of the batch.",
)
def trade_files(
    context: dg.AssetExecutionContext,
    book: BookSource,
    released_trades: pl.DataFrame,
    accounts: pl.DataFrame,
    securities: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    from rebalance_pipeline.export.trade_files import write_trade_files
    from rebalance_pipeline.storage import file_sha256

    as_of = partition_date(context.partition_key)
    folder = book.home() / "trades" / as_of.isoformat()
    manifest = write_trade_files(released_trades, accounts, securities, folder, as_of)
    entries = [
        (str(manifest.folder / f.name), f.custodian, f.rows, f.sha256) for f in manifest.files
    ]
    manifest_file = manifest.folder / "manifest.json"
    entries.append((str(manifest_file), None, manifest.total_rows, file_sha256(manifest_file)))
    files = pl.DataFrame(
        entries,
        schema={"file": pl.String, "custodian": pl.String, "rows": pl.Int64, "sha256": pl.String},
        orient="row",
    ).with_columns(pl.lit(manifest.batch_id).alias("batch_id"))
    return dg.Output(
        files,
        metadata={
            "batch_id": manifest.batch_id,
            "batch_status": manifest.status,
            "trade_rows": manifest.total_rows,
            "folder": dg.MetadataValue.path(str(manifest.folder)),
        },
    )
