"""Unchecked operations. ``bastion check`` flags their use outside the kernel.

``send`` is the only way to deliver a message without being told it failed: if the
target is dead or its mailbox is full, the message goes to the dead letters and the
sender learns nothing. Prefer ``ActorRef.cast`` / ``cast_nowait``.
"""

from __future__ import annotations

from typing import Any

from bastion._core import _carry
from bastion._core._cell import INFO
from bastion._core._errors import ActorNotAlive
from bastion._core._ref import ActorRef

__all__ = ["send"]


def send(ref: ActorRef, message: Any) -> None:
    """Deliver ``message`` to the actor's ``handle_info``, or to the dead letters."""
    cell = ref._resolve_or_none()
    if cell is None:
        return
    try:
        delivered = cell.try_post((INFO, message, None, _carry.capture()))
    except ActorNotAlive:
        delivered = False
    if not delivered:
        cell.runtime.dead_letters._add(cell, message, "unchecked send failed")
