"""Shared helpers for the resilience tests: a hand-driven clock, clean global state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from bastion.resilience import _legacy
from bastion.resilience._retry import _set_instant


class FakeClock:
    """A clock the test moves by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def sleep_sync(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleep_sync(seconds)
        await asyncio.sleep(0)

    def call_at(self, when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_at(loop.time() + max(0.0, when - self.t), callback)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    yield
    _set_instant(False)
    _legacy.enabled = False
    _legacy.ever_enabled = False
    _legacy.restore(None)
