"""Shared helpers for the durable workflow tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import bastion
from bastion.persistence import MemoryStore, SQLiteStore, StateStore
from bastion.workflows import WorkflowEngine


@pytest.fixture(params=["memory", "sqlite"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Tests that take it run on both backends."""
    return str(request.param)


@asynccontextmanager
async def open_store(kind: str, path: Path) -> AsyncIterator[StateStore]:
    """A store of ``kind`` ("memory" or "sqlite"), closed on exit."""
    store: StateStore = (
        MemoryStore() if kind == "memory" else await SQLiteStore.open(path / "wf.db")
    )
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def engine_on(
    rt: bastion.Runtime, store: StateStore, **options: Any
) -> AsyncIterator[WorkflowEngine]:
    """An engine on ``store``, closed on exit."""
    engine = await bastion.open_workflows(rt, store=store, **options)
    try:
        yield engine
    finally:
        await engine.close()


class Journal:
    """What the steps of a test module did, in order (steps are module-level functions),
    with the gates and switches the steps obey."""

    def __init__(self) -> None:
        self.entries: list[str] = []
        self._gates: dict[str, asyncio.Event] = {}
        self._switches: dict[str, int] = {}

    def gate(self, name: str) -> asyncio.Event:
        """The gate ``name`` (closed until set; a new one after ``clear``)."""
        return self._gates.setdefault(name, asyncio.Event())

    def switch(self, name: str, value: int | None = None) -> int:
        """The switch ``name`` (0 until set); with ``value``: set it first."""
        if value is not None:
            self._switches[name] = value
        return self._switches.get(name, 0)

    def add(self, entry: str) -> None:
        """Note one side effect."""
        self.entries.append(entry)

    def clear(self) -> None:
        """Forget everything (at the start of a test)."""
        self.entries = []
        self._gates = {}
        self._switches = {}
