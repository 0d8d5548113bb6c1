"""A mailbox entry (envelope) and its kinds, a cell's lifecycle states, waking a sender."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion._core import _carry

__all__ = [
    "CALL",
    "CAST",
    "CONTINUE",
    "DEAD",
    "INFO",
    "RUNNING",
    "STARTING",
    "STOPPING",
    "Envelope",
    "wake_sender",
]

CALL, CAST, INFO, CONTINUE = 0, 1, 2, 3
STARTING, RUNNING, STOPPING, DEAD = 0, 1, 2, 3
#: (kind, message, reply future or None, carried context or None: see ``_carry``)
Envelope = tuple[int, Any, "asyncio.Future[Any] | None", "_carry.Snapshot | None"]


def wake_sender(senders: deque[asyncio.Future[None]]) -> None:
    """Give the first still-waiting blocked sender its room."""
    while senders:
        room = senders.popleft()
        if not room.done():
            room.set_result(None)
            return
