"""Shared helpers for the agent tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bastion
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
