"""Which paths may be read as custodian drop files.

A drop file is a regular file inside the book's drop folder. A symbolic link (even one
pointing back into the book), a directory, a device or a path that resolves outside the
drop folder is *foreign*: it is reported and never opened, so that no text from outside
the book reaches the raw records, the warehouse or the trades.
"""

from __future__ import annotations

from pathlib import Path


def foreign_reason(path: Path, root: Path | None) -> str | None:
    """Why ``path``, which exists or is a link, may not be read (None: it may).

    ``root`` is the book root; without it the file's own folder is the drop folder.
    """
    if path.is_symlink():
        return "a symbolic link"
    folder = root / "drops" if root is not None else path.parent
    resolved = path.resolve()
    if not resolved.is_relative_to(folder.resolve()):
        return "outside the book's drop folder"
    if not resolved.is_file():
        return "not a regular file"
    return None


def is_drop_file(path: Path, root: Path | None) -> bool:
    """``path`` is there and may be read as a drop file."""
    return path.exists() and foreign_reason(path, root) is None
