"""Fixtures shared by the inner test files (a user's conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest


def report(name: str) -> None:
    """Print who runs the current test: ``RUNNER <test> <loop class>``."""
    print(f"RUNNER {name} {type(asyncio.get_running_loop()).__name__}")


@pytest.fixture
async def opened() -> AsyncIterator[dict[str, float]]:
    """An async generator fixture: ten (virtual, under Bastion) seconds to open, five to close."""
    loop = asyncio.get_running_loop()
    state = {"opened_at": 0.0, "loop": float(id(loop))}
    await asyncio.sleep(10)  # noqa: BAS601 -- the subject: virtual time in an async fixture
    state["opened_at"] = loop.time()
    yield state
    await asyncio.sleep(5)  # noqa: BAS601 -- the subject: virtual time in its teardown


@pytest.fixture
async def answer() -> int:
    """A plain ``async def`` fixture."""
    await asyncio.sleep(0)
    return 42


@pytest.fixture
def anyio_backend() -> str:
    """anyio tests of this project run on asyncio only (trio need not be installed)."""
    return "asyncio"
