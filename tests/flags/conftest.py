"""Fixtures for the flag tests: a store of each backend that can be reopened."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bastion.persistence import MemoryStore, SQLiteStore, StateStore

Reopen = Callable[[], Awaitable[StateStore]]


@pytest.fixture(params=["memory", "sqlite"])
async def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Reopen]:
    """``await reopen()`` gives the store as a restarted process would see it: the same
    MemoryStore object, or the SQLite file opened anew (the previous one closed)."""
    memory = MemoryStore()
    opened: list[StateStore] = []

    async def open_again() -> StateStore:
        if request.param == "memory":
            return memory
        if opened:
            await opened[-1].close()
        opened.append(await SQLiteStore.open(tmp_path / "flags.db", op_timeout=10.0))
        return opened[-1]

    yield open_again
    for store in opened:
        await store.close()
