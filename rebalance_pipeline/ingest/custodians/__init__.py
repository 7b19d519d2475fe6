"""A book's custodians and their file formats (adapters).

``firm/custodians.yaml`` names a book's custodians and the adapter that reads each one's
files::

    custodians:
      alder: {adapter: alder_csv}
      birch: {adapter: birch_pipe}
      cedar: {adapter: "my_firm.custodians:CedarAdapter"}

An adapter is a built-in name (:data:`BUILTIN_ADAPTERS`), the name of an installed entry
point of group ``rebalance_pipeline.custodian_adapters``, or a dotted path
``package.module:attribute``; the attribute is an adapter (adapter.CustodianAdapter) or a
class built with no arguments. A book without the file has :data:`DEFAULT_CUSTODIANS`.
A file that cannot be used is a :class:`CustodiansError`: without its custodian list a
book cannot run a date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import importlib
import re
from importlib.metadata import entry_points
from pathlib import Path

import pydantic
import yaml

from rebalance_pipeline.ingest.custodians.adapter import (
    KINDS,
    CustodianAdapter,
    FileReading,
    UnreadableFile,
)
from rebalance_pipeline.ingest.custodians.alder import AlderCsv
from rebalance_pipeline.ingest.custodians.birch import BirchPipe
from rebalance_pipeline.ingest.custodians.ibkr_flex import IbkrFlex

__all__ = [
    "BUILTIN_ADAPTERS",
    "Custodian",
    "CustodianAdapter",
    "CustodiansError",
    "FileReading",
    "UnreadableFile",
    "book_custodians",
]

CUSTODIANS_FILE = "firm/custodians.yaml"
ENTRY_POINT_GROUP = "rebalance_pipeline.custodian_adapters"
BUILTIN_ADAPTERS: dict[str, type] = {
    "alder_csv": AlderCsv,
    "birch_pipe": BirchPipe,
    "ibkr_flex": IbkrFlex,
}
DEFAULT_ADAPTERS = {"alder": "alder_csv", "birch": "birch_pipe"}
# a custodian's name is a folder of the drops and part of its raw tables' names
CUSTODIAN_NAME = re.compile(r"[a-z][a-z0-9_]*")
ADAPTER_METHODS = (
    "file_name",
    "file_date",
    "read_files",
    "raw_columns",
    "raw_records",
    "detail_rows",
)


class CustodiansError(ValueError):
    """A custodians file that cannot be used; the message is one line naming the file
    and the entry at fault."""


@dataclasses.dataclass(frozen=True, eq=False)  # an adapter need not be hashable
class Custodian:
    """A custodian of the book and the adapter that reads its files."""

    name: str
    adapter: CustodianAdapter

    def drop_path(self, kind: str, day: dt.date) -> str:
        """Path of the custodian's file of ``kind`` for ``day``, relative to the book."""
        return f"drops/{day.isoformat()}/{self.name}/{self.adapter.file_name(kind, day)}"


class _Entry(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    adapter: str


class _CustodiansFile(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    custodians: dict[str, _Entry] = pydantic.Field(min_length=1)


def book_custodians(book: Path) -> tuple[Custodian, ...]:
    """The custodians of the book at ``book``, in the order its file lists them."""
    path = book / CUSTODIANS_FILE
    if not path.is_file():
        return DEFAULT_CUSTODIANS
    return _custodians_of(path.resolve(), path.stat().st_mtime_ns)


@functools.cache
def _custodians_of(path: Path, _mtime_ns: int) -> tuple[Custodian, ...]:
    """The custodians a file lists (read again when it changes)."""
    try:
        listed = _CustodiansFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CustodiansError(
            f"custodians file {path}: not readable YAML ({_line(error)})"
        ) from None
    except pydantic.ValidationError as error:
        raise CustodiansError(f"custodians file {path}: {_field_errors(error)}") from None
    custodians = []
    for name, entry in listed.custodians.items():
        if not CUSTODIAN_NAME.fullmatch(name):
            raise CustodiansError(
                f"custodians file {path}: custodian {name!r}: a name is lower-case letters, "
                "digits and '_', starting with a letter"
            )
        try:
            custodians.append(Custodian(name, adapter_named(entry.adapter)))
        except CustodiansError as error:
            raise CustodiansError(f"custodians file {path}: custodian {name!r}: {error}") from None
    return tuple(custodians)


def adapter_named(name: str) -> CustodianAdapter:
    """The adapter a custodians file names: built-in, entry point or dotted path."""
    if name in BUILTIN_ADAPTERS:
        return BUILTIN_ADAPTERS[name]()
    if ":" in name:
        found = _attribute(name)
    else:
        points = entry_points(group=ENTRY_POINT_GROUP, name=name)
        if not points:
            raise CustodiansError(
                f"adapter {name!r} is not built in ({', '.join(BUILTIN_ADAPTERS)}), not an "
                f"installed entry point of {ENTRY_POINT_GROUP} and not a dotted path "
                "'package.module:attribute'"
            )
        try:
            found = next(iter(points)).load()
        except Exception as error:  # a third party's module: any error is its own
            raise CustodiansError(f"adapter {name!r} does not load: {_line(error)}") from None
    adapter = found() if isinstance(found, type) else found
    return _checked(name, adapter)


def _attribute(path: str) -> object:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a third party's module: any error is its own
        raise CustodiansError(
            f"adapter {path!r}: cannot import {module_name!r} ({_line(error)})"
        ) from None
    try:
        return functools.reduce(getattr, attribute.split("."), module)
    except AttributeError:
        raise CustodiansError(f"adapter {path!r}: {module_name} has no {attribute!r}") from None


def _checked(name: str, adapter: object) -> CustodianAdapter:
    """``adapter`` when it has what ingest asks of an adapter."""
    lacking = [m for m in ADAPTER_METHODS if not callable(getattr(adapter, m, None))]
    if lacking:
        raise CustodiansError(
            f"adapter {name!r} is not a custodian adapter (no {', '.join(lacking)})"
        )
    kinds = getattr(adapter, "kinds", ())
    unknown = sorted(set(kinds) - set(KINDS))
    if not kinds or unknown:
        raise CustodiansError(
            f"adapter {name!r}: kinds {list(kinds)} must be some of {', '.join(KINDS)}"
        )
    return adapter  # type: ignore[return-value]


def _line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _field_errors(error: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'the file'}: {e['msg']}"
        for e in error.errors(include_url=False)
    )


DEFAULT_CUSTODIANS = tuple(Custodian(c, adapter_named(a)) for c, a in DEFAULT_ADAPTERS.items())
