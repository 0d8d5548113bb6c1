"""``CommitKick``: acknowledged writes that share group commits instead of starting one each.

A write someone waits for (a CoordinatorAgent's ``start_workflow`` is answered once its
start is committed) submitted as urgent starts a group commit on the next turn of the
loop; concurrent clients rarely write in the same turn, so under load each paid a
commit of its own. Submitted *deferred* instead, it joins the next group commit that
anything starts (another write someone waits for, the store's ``flush_interval``),
together with the deferred writes of every agent meanwhile. If no group has started
after :data:`KICK_TURNS` turns of the event loop, the kick starts one itself with an
empty urgent batch, which commits every batch submitted before it. The waiter is still
answered only after the commit; only who starts the commit, and when, changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bastion._core._runtime import Runtime
from bastion.persistence import StateStore, StoreError

__all__ = ["KICK_TURNS", "CommitKick"]

#: Turns of the event loop a deferred write someone waits for waits for another group
#: commit to carry it before the kick starts one (each turn: one loop handle, no timer).
KICK_TURNS = 8


class CommitKick:
    """Starts a group commit :data:`KICK_TURNS` loop turns after a waited deferred write,
    if none started meanwhile (once for every such write submitted in between)."""

    __slots__ = ("_left", "_runtime", "_store", "_waiting")

    def __init__(self, runtime: Runtime, store: StateStore) -> None:
        self._runtime = runtime
        self._store = store
        self._left = -1  # not counting
        self._waiting: asyncio.Future[Any] | None = None  # the last write waited for

    def arm(self, fut: asyncio.Future[Any]) -> None:
        """``fut`` (a deferred write's future) is waited for: kick if it stays pending."""
        self._waiting = fut
        if self._left < 0:
            self._left = KICK_TURNS
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        waiting = self._waiting
        if waiting is None or waiting.done():
            self._left, self._waiting = -1, None  # a group took it: nothing to start
            return
        self._left -= 1
        if self._left > 0:
            asyncio.get_running_loop().call_soon(self._tick)
            return
        self._left, self._waiting = -1, None
        self._runtime.tasks.start(self._commit_now, name="workflow commit kick")

    async def _commit_now(self) -> None:
        try:
            fut = await self._store.submit([], defer=False)  # commits every batch before it
        except StoreError:
            return  # the waiting write fails (or times out) on its own
        fut.add_done_callback(_seen)


def _seen(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # a failure reaches the waiter through its own write
