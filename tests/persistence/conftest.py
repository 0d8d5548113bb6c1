"""Fixtures for the persistence tests: one factory per store backend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bastion.persistence import MemoryStore, SQLiteStore, StateStore

StoreFactory = Callable[[], Awaitable[StateStore]]


@pytest.fixture(params=["memory", "sqlite", "sqlite-process"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """An async factory opening a fresh store of each backend (the contract suite's axis)."""

    async def open_memory() -> StateStore:
        return MemoryStore()

    async def open_sqlite() -> StateStore:
        return await SQLiteStore.open(tmp_path / "state.db", op_timeout=10.0)

    async def open_sqlite_process() -> StateStore:
        return await SQLiteStore.open(tmp_path / "state.db", op_timeout=10.0, writer="process")

    factories = {
        "memory": open_memory,
        "sqlite": open_sqlite,
        "sqlite-process": open_sqlite_process,
    }
    return factories[request.param]
