"""``CommitWatch``: the write timeout of every commit wait of an engine, on one timer.

A run that waits for its writes to commit (before a step, at its finish) and a start
that waits for its first write each take a *waiter* future from the watch; the store's
commit callback resolves it with True. A waiter still unresolved ``limit`` seconds after
it was taken is resolved with False (the commit did not come in time). Waiters are kept
in the order they were taken, which is also the order of their deadlines, so one timer
(armed for the oldest) serves all of them, instead of a timer per wait.
"""

from __future__ import annotations

import asyncio

__all__ = ["CommitWatch"]


class CommitWatch:
    """Deadlines of pending commit waiters, checked by one loop timer."""

    __slots__ = ("_due", "_timer", "limit")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._due: dict[asyncio.Future[bool], float] = {}  # in deadline order
        self._timer: asyncio.TimerHandle | None = None

    def waiter(self) -> asyncio.Future[bool]:
        """A new waiter, resolved with False if nothing resolves it within ``limit`` s."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        due = self._due[waiter] = loop.time() + self.limit
        if self._timer is None:
            self._timer = loop.call_at(due, self._expire)
        return waiter

    def forget(self, waiter: asyncio.Future[bool]) -> None:
        """``waiter`` no longer waits (resolved, or its waiter gave up)."""
        due = self._due
        if due.pop(waiter, None) is not None and not due and self._timer is not None:
            self._timer.cancel()  # nothing left to watch (no timer outlives the waits)
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = self._due
        while due:
            waiter, when = next(iter(due.items()))
            if when > now and not waiter.done():
                self._timer = loop.call_at(when, self._expire)
                return
            del due[waiter]
            if not waiter.done():
                waiter.set_result(False)
