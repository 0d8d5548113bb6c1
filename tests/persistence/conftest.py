"""Fixtures for the persistence tests: one factory per store backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bastion.persistence import MemoryStore, PostgresStore, SQLiteStore, StateStore

StoreFactory = Callable[[], Awaitable[StateStore]]


#: The PostgreSQL tests run on the real clock: the server answers in real time, and a
#: virtual clock would jump past a query's deadline while the loop waits for its socket.
POSTGRES = pytest.param("postgres", marks=pytest.mark.bastion(real_time=True))


@pytest.fixture(params=["memory", "sqlite", "sqlite-thread", "sqlite-process", POSTGRES])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """An async factory opening a fresh store of each backend (the contract suite's axis);
    ``postgres`` in a fresh PostgreSQL schema of the session's test server."""

    async def open_memory() -> StateStore:
        return MemoryStore()

    async def open_sqlite() -> StateStore:
        return await SQLiteStore.open(tmp_path / "state.db", op_timeout=10.0)

    async def open_sqlite_process() -> StateStore:
        return await SQLiteStore.open(tmp_path / "state.db", op_timeout=10.0, writer="process")

    async def open_sqlite_thread() -> StateStore:
        return await SQLiteStore.open(tmp_path / "state.db", op_timeout=10.0, writer="thread")

    async def open_postgres() -> StateStore:
        dsn = request.getfixturevalue("pg_dsn")
        schema = request.getfixturevalue("pg_schema")
        return await PostgresStore.open(dsn, schema=schema, op_timeout=10.0)

    if request.param == "postgres":
        request.getfixturevalue("pg_schema")  # start (or skip without) the server now
    factories = {
        "memory": open_memory,
        "sqlite": open_sqlite,
        "sqlite-thread": open_sqlite_thread,
        "sqlite-process": open_sqlite_process,
        "postgres": open_postgres,
    }
    return factories[request.param]
