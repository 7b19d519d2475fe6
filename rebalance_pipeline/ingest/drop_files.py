"""Which paths may be read as the book's own files.

A drop file is a regular file inside the book's drop folder, a firm file one inside the
firm folder. A symbolic link (even one pointing back into the book), a directory, a
device or a path that resolves outside its folder is *foreign*: it is reported and never
opened, so that no text from outside the book reaches the raw records, the warehouse or
the trades.
"""

from __future__ import annotations

from pathlib import Path


def foreign_reason(path: Path, folder: Path) -> str | None:
    """Why ``path``, which exists or is a link, may not be read as a file of ``folder``
    (None: it may)."""
    if path.is_symlink():
        return "a symbolic link"
    resolved = path.resolve()
    if not resolved.is_relative_to(folder.resolve()):
        return f"outside {folder.name}/"
    if not resolved.is_file():
        return "not a regular file"
    return None


def is_drop_file(path: Path, root: Path) -> bool:
    """``path`` is there and may be read as a drop file of the book at ``root``."""
    return path.exists() and foreign_reason(path, root / "drops") is None
