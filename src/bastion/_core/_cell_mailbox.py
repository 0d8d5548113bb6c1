"""The mailbox's slow paths: a sender waiting for room, a timer's delivery, the
high-water mark.

Methods of :class:`~bastion._core._cell.Cell` (bound in its class body) kept apart
from the fast path (``try_post``) and the actor loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from bastion._core._envelope import INFO, STOPPING, Envelope
from bastion._core._errors import ActorNotAlive, MailboxFull

if TYPE_CHECKING:
    from bastion._core import _carry
    from bastion._core._cell import Cell

__all__ = ["deliver_timer", "note_depth", "post", "post_at_limit"]


def post_at_limit(cell: Cell, envelope: Envelope) -> bool:
    """``try_post``'s slow path: the mailbox reached ``limit`` (see ``Cell.limit``).

    Raises ActorNotAlive if the actor is stopping or dead; False if the mailbox is full.
    Otherwise appends, wakes a parked actor and notes the new depth (which sets
    ``limit`` again for the running actor).
    """
    if cell.state >= STOPPING:
        raise ActorNotAlive(f"{cell!r} is not alive")
    queue = cell.queue
    if len(queue) >= cell.capacity:
        return False
    queue.append(envelope)
    if cell.parked:
        cell.wake()
    # note_depth, inlined (a call to a parked actor takes this path every time): the
    # actor is running now, so ``limit`` is the capacity or the class's mark if lower.
    depth = len(queue)
    meter = cell.meter
    if meter is None:
        cell.limit = cell.capacity
        return True
    if depth > meter.high_water:
        meter.high_water = depth
    mark = meter.high_water
    cell.limit = mark if mark < cell.capacity else cell.capacity
    return True


def note_depth(cell: Cell, depth: int) -> None:
    """Raise the class's mailbox high-water mark to ``depth``; recompute ``limit``.

    ``try_post`` leaves its fast path only once the mailbox reaches ``limit`` (the
    capacity, or the class's mark if lower), so the mark costs no test per message.
    A parked, stopping or dead actor keeps ``limit`` at 0 (each send is a slow one).
    """
    meter = cell.meter
    if meter is not None and depth > meter.high_water:
        meter.high_water = depth
    if cell.parked or cell.state >= STOPPING:
        cell.limit = 0
    elif meter is None:
        cell.limit = cell.capacity
    else:
        cell.limit = min(cell.capacity, meter.high_water)


async def post(
    cell: Cell, envelope: Envelope, deadline: float, on_expiry: type[Exception] = MailboxFull
) -> None:
    """Append under backpressure, waiting for room until ``deadline`` (loop time).

    Raises ``on_expiry`` if the mailbox is still full at the deadline.
    """
    while not cell.try_post(envelope):
        room: asyncio.Future[None] = cell.loop.create_future()
        if cell.senders is None:
            cell.senders = deque()
        cell.senders.append(room)
        cell.attention = True  # the actor loop wakes one sender per message it takes
        handle = cell.loop.call_at(deadline, _expire_room, room, cell, on_expiry)
        try:
            await room
        finally:
            handle.cancel()
        if cell.state >= STOPPING:
            raise ActorNotAlive(f"{cell!r} stopped while the sender waited for room")


def deliver_timer(cell: Cell, message: Any, carried: _carry.Snapshot | None = None) -> None:
    """Deliver a timer message (with the context it was set in); full mailbox: dead letter."""
    if cell.state >= STOPPING:
        return
    if not cell.try_post((INFO, message, None, carried)):
        cell.runtime._note_mailbox_full(cell)
        cell.runtime.dead_letters._add(cell, message, "mailbox_full")


def _expire_room(room: asyncio.Future[None], cell: Cell, error: type[Exception]) -> None:
    if not room.done():
        cell.runtime._note_mailbox_full(cell)
        room.set_exception(error(f"mailbox of {cell!r} still full at the deadline"))
