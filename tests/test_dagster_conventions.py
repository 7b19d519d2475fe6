"""Dagster conventions every asset and run of the code location keeps (issue 16 §4)."""

from __future__ import annotations

DEFAULT_GROUP = "default"  # where Dagster puts an asset whose definition names no group


def test_no_asset_sits_in_the_default_group() -> None:
    """Asset checks show under their asset, so this covers them too."""
    from rebalance_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    in_default = sorted(
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == DEFAULT_GROUP
    )
    assert in_default == []
