"""Adding a SQL file adds a Dagster asset whose upstream assets are the tables it reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from rebalance_pipeline.features import SQL_DIR, SqlModelError
from rebalance_pipeline.features.assets import feature_assets


def _parents(assets: list[dg.AssetsDefinition], name: str) -> set[str]:
    (asset,) = [a for a in assets if dg.AssetKey(name) in a.keys]
    return {key.to_user_string() for key in asset.asset_deps[dg.AssetKey(name)]}


def test_a_new_sql_file_becomes_an_asset_with_its_lineage(tmp_path: Path) -> None:
    shutil.copytree(SQL_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "cash_heavy_accounts.sql").write_text(
        "WITH v AS (SELECT * FROM account_valuations)\n"
        "SELECT v.account_id, v.cash / v.total_value AS cash_weight, m.mandate\n"
        "FROM v LEFT JOIN mandates AS m USING (account_id)\n"
        "WHERE v.cash > 0.05 * v.total_value AND (SELECT as_of FROM run_context) IS NOT NULL\n"
    )
    assets = feature_assets(tmp_path)
    assert _parents(assets, "cash_heavy_accounts") == {"account_valuations", "mandates"}
    assert sum(len(a.keys) for a in assets) == len(list(SQL_DIR.glob("*.sql"))) + 1


def test_a_malformed_sql_file_fails_at_definition_load_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.sql").write_text("SELECT account_id FROM WHERE")
    with pytest.raises(SqlModelError, match=r"broken\.sql"):
        feature_assets(tmp_path)
