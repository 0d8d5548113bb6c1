"""The bulkhead: at most ``max_concurrent`` calls at once, plus a bounded FIFO wait queue.

A call beyond both is refused at once with :class:`BulkheadFull`; a queued call that
waits longer than ``max_wait`` (on the clock) is refused the same way. A freed slot is
handed straight to the oldest waiter, so late arrivals never overtake the queue.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import ParamSpec, TypeVar, cast

from bastion._core import _event_names, _events
from bastion._core._clock import Clock, current_clock
from bastion._core._durations import positive_seconds
from bastion.resilience._errors import BulkheadFull
from bastion.telemetry import _hooks

__all__ = ["Bulkhead", "BulkheadStatistics"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class BulkheadStatistics:
    """A snapshot of one bulkhead."""

    name: str
    max_concurrent: int
    max_queue: int
    active: int
    waiting: int
    admitted: int
    rejected: int
    timed_out: int


class Bulkhead:
    """Limit concurrent calls to a dependency (asyncio)::

    db = Bulkhead("db", max_concurrent=10, max_queue=20, max_wait=1.0)
    async with db:
        await query()
    """

    def __init__(
        self,
        name: str,
        *,
        max_concurrent: int = 10,
        max_queue: int = 0,
        max_wait: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        sizes = (("max_concurrent", max_concurrent, 1), ("max_queue", max_queue, 0))
        for key, value, least in sizes:
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"{key} must be an int >= {least}, got {value!r}")
        positive_seconds("max_wait", max_wait)
        self.name = name
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.max_wait = float(max_wait)
        self._clock = clock
        self._active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._admitted = self._rejected = self._timed_out = 0

    def _refuse(self, code: str, why: str) -> BulkheadFull:
        self._rejected += 1
        _events.emit(
            _event_names.BULKHEAD_REJECTED,
            {"active": self._active},
            {"name": self.name, "reason": code},
        )
        _hooks.count("bastion_bulkhead_rejections", self.name, code)
        return BulkheadFull(
            f"bulkhead {self.name!r} {why}",
            code=code,
            context={
                "bulkhead": self.name,
                "active": self._active,
                "waiting": len(self._waiters),
                "max_concurrent": self.max_concurrent,
                "max_queue": self.max_queue,
            },
        )

    async def acquire(self) -> None:
        """Take a slot, waiting in the queue if there is room; else :class:`BulkheadFull`."""
        if self._active < self.max_concurrent and not self._waiters:
            self._active += 1
            self._admitted += 1
            return
        if len(self._waiters) >= self.max_queue:
            raise self._refuse("bulkhead_full", "is full (all slots busy, queue full)")
        clock = self._clock or current_clock()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        queued_at = clock.now()
        timer = clock.call_at(queued_at + self.max_wait, lambda: self._expire(waiter))
        try:
            await waiter  # resolved by release(): the slot is handed over, already counted
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # we were handed a slot as we were cancelled: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        finally:
            timer.cancel()
        self._admitted += 1
        _hooks.observe("bastion_bulkhead_wait_seconds", clock.now() - queued_at, self.name)

    def _expire(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done():
            return
        self._waiters.remove(waiter)
        self._timed_out += 1
        waiter.set_exception(
            self._refuse("bulkhead_wait_timeout", f"had no free slot within {self.max_wait}s")
        )

    def release(self) -> None:
        """Free a slot: hand it to the oldest waiter, or return it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        if self._active <= 0:
            raise RuntimeError(f"bulkhead {self.name!r} released more often than acquired")
        self._active -= 1

    async def __aenter__(self) -> Bulkhead:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    async def call(self, fn: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R:
        """Await ``fn(*args, **kwargs)`` holding a slot."""
        await self.acquire()
        try:
            return await fn(*args, **kwargs)
        finally:
            self.release()

    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        """Decorate an ``async def`` to run holding a slot."""

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return await self.call(fn, *args, **kwargs)

        return cast(Callable[P, Awaitable[R]], wrapper)

    def statistics(self) -> BulkheadStatistics:
        """Slots in use, queue length and lifetime counters."""
        return BulkheadStatistics(
            self.name,
            self.max_concurrent,
            self.max_queue,
            self._active,
            len(self._waiters),
            self._admitted,
            self._rejected,
            self._timed_out,
        )

    def __repr__(self) -> str:
        return f"<Bulkhead {self.name!r} {self._active}/{self.max_concurrent} active>"
