"""Shared helpers for the agent tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bastion.persistence import MemoryStore, SQLiteStore, StateStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh SQLite state database path."""
    return tmp_path / "state.db"


@asynccontextmanager
async def open_store(kind: str, path: Path) -> AsyncIterator[StateStore]:
    """A store of ``kind`` ("memory" or "sqlite"), closed on exit."""
    store: StateStore = MemoryStore() if kind == "memory" else await SQLiteStore.open(path)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=["memory", "sqlite"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each persistent-agent test runs on both backends."""
    return str(request.param)
