"""Shared helpers for the agent tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import bastion
from bastion.persistence import MemoryStore, SQLiteStore, StateStore
from bastion.testing import crash


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh SQLite state database path."""
    return tmp_path / "state.db"


async def crash_agent(ref: bastion.ActorRef) -> None:
    """Crash an actor (as if its handler raised) and return once it is dead.

    Works around ``bastion.testing.crash`` awaiting ``cell.done`` before anyone created
    it: a ``wait_stopped`` waiter is registered first.
    """
    stopped = asyncio.ensure_future(ref.wait_stopped(timeout=5.0))
    await asyncio.sleep(0)  # a yield (not a wait): lets the waiter register
    await crash(ref)
    await stopped


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
