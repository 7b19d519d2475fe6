"""The Dagster instance's storage on SQLite, each event database's engine made once.

Dagster's SQLite event log creates a SQLAlchemy engine for every connection it opens:
every event of a run (about 600 for one date, most of them per asset, not per account)
builds an engine, and every statement is compiled again because SQLAlchemy caches
compiled statements on the engine. Here each database file keeps one engine per process.
The engine still pools nothing (``NullPool``): a connection is opened and closed for
every write exactly as before, so the database files, their locking and the write-ahead
log's checkpoints (which the Dagster UI watches to show a running run's events) are
unchanged. The instance's ``dagster.yaml`` names this storage (``runner.dagster_home``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    SqliteStorageConfig,
    _event_logs_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.pool import NullPool

# engines kept per process: a run touches its own database and the index; the Dagster
# UI reads many runs, each engine holding its compiled statements
ENGINES_KEPT = 16


class EngineReusingSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, one engine per database file instead of one per
    connection."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # before Dagster's __init__, which connects when it creates the index database
        self._engine = functools.lru_cache(maxsize=ENGINES_KEPT)(_sqlite_engine)
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as connection, connection.begin():
                yield connection


def _sqlite_engine(conn_string: str) -> Engine:
    """The engine Dagster makes for every connection: no pool, its busy timeout."""
    return create_engine(
        conn_string, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    )


class SqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage (runs, schedules and event log under one
    folder, laid out as Dagster lays them out) with the engine-reusing event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = EngineReusingSqliteEventLogStorage(
            _event_logs_directory(base_dir)
        )

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: SqliteStorageConfig
    ) -> SqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
