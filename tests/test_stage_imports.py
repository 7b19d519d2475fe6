"""Stages flow one way: a stage's modules import only the shared modules, their own stage
and the stages before it, never a later one; the shared modules import no stage.

Every ``import`` of the package is read with ``ast`` (those inside functions too), so a
lazy import cannot hide a backward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rebalance_pipeline"

# the stages of a date, in the order the data flows
STAGES = (
    "ingest",
    "continuity",
    "validation",
    "features",
    "optimization",
    "routing",
    "compliance",
    "review",
    "export",
)
# modules every stage may use; they import no stage
SHARED = ("tables", "book", "policy", "calendar", "partitions", "storage", "resources", "reporting")
# modules that live in a stage's package but serve earlier stages too, and why
SHARED_FROM_STAGES = frozenset(
    {
        # the SQL engine (dbt_like_sql/ models and macros) that validation's SQL rules and
        # the firm files' "active on a date" rule run on as well
        "rebalance_pipeline.features",
        "rebalance_pipeline.features.models",
        "rebalance_pipeline.features.runner",
        "rebalance_pipeline.features.macros",
        # the findings table every stage's faults are written in
        "rebalance_pipeline.validation.findings",
        # the pandera contracts and presence checks of the ingested tables, which must run
        # in the step that writes them (a check of its own would be a process of its own)
        "rebalance_pipeline.validation.checks",
        "rebalance_pipeline.validation.contracts",
    }
)
# the applications over every stage: Dagster definitions, CLI, audit, tools
APPLICATIONS = (
    "definitions",
    "executor",
    "runner",
    "run_progress",
    "instance_storage",
    "forkserver_warmup",
    "cli",
    "workflow",
    "operations",
    "audit",
    "daily_report",
    "scenario",
    "simulation",
    "review_screen",
    "ui",
    "simulation",
)
TOOLS = ("generator",)


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path) -> set[str]:
    """The package's modules ``path`` imports (``from x import y`` counts x and x.y)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith(f"{root.name}.")}


def _top(module: str) -> str:
    """The first part under the package: a stage, a shared module, an application."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _rank(module: str) -> int | None:
    """The stage order of ``module``: -1 shared, the stage's index, None an application."""
    if _top(module) in SHARED:
        return -1
    if _top(module) in STAGES:
        return STAGES.index(_top(module))
    return None


def _rank_imported(module: str) -> int | None:
    """As :func:`_rank`, the modules that serve earlier stages too counted as shared."""
    return -1 if module in SHARED_FROM_STAGES else _rank(module)


def backward_imports(root: Path = PACKAGE) -> list[str]:
    """Every import of a later stage (or an application) from an earlier stage or a
    shared module, as ``importer -> imported``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        importer = _module_name(path, root)
        if _top(importer) in APPLICATIONS or _top(importer) in TOOLS or importer == root.name:
            continue
        own = _rank(importer)
        for imported in sorted(_imports(path, root)):
            if not _is_module(imported, root):
                continue
            rank = _rank_imported(imported)
            if rank is None or (own is not None and rank > own):
                found.append(f"{importer} -> {imported}")
    return found


def _is_module(name: str, root: Path) -> bool:
    """Whether ``name`` is a module or package of the package (not a name inside one)."""
    base = root.joinpath(*name.split(".")[1:])
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_every_package_is_placed():
    placed = {*STAGES, *SHARED, *APPLICATIONS, *TOOLS}
    present = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert present <= placed, f"place these in a layer of the test: {sorted(present - placed)}"


def test_no_stage_imports_a_later_stage():
    assert backward_imports() == []


def test_the_check_finds_a_backward_import(tmp_path: Path):
    """The walk itself, on a small package: routing importing export (lazily, inside a
    function) is reported, export importing routing and a shared module is not."""
    root = tmp_path / PACKAGE.name
    files = {
        "__init__.py": "",
        "tables.py": "",
        "routing/__init__.py": "",
        "routing/route.py": "def f():\n    from rebalance_pipeline.export.files import write\n",
        "export/__init__.py": "",
        "export/files.py": "from rebalance_pipeline import tables\n"
        "from rebalance_pipeline.routing import route\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert backward_imports(root) == [
        "rebalance_pipeline.routing.route -> rebalance_pipeline.export.files"
    ]
