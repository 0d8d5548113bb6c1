"""A coordinator's acknowledgements share group commits instead of starting one each.

``start_workflow`` (any acknowledged action of a CoordinatorAgent with ``batched``
durability) is answered only once the write recording it is committed. Submitted as an
urgent batch, that write starts a group commit on the next turn of the loop, and
concurrent clients rarely call in the same turn: under load each start paid a commit of
its own, about one SQLite commit per job. Instead the write is submitted *deferred*: it
joins the next group commit that anything starts (another agent's acknowledged write,
the store's ``flush_interval``), together with the step writes of every agent queued
meanwhile. If no group has started after :data:`ACK_TURNS` turns of the event loop, the
coordinator starts one itself with an empty urgent batch (:class:`CommitAcks`, a message
it sends to itself). The reply still leaves only after the commit; only who starts the
commit, and when, changed. A full mailbox skips the message: the store still commits a
deferred batch within its ``flush_interval``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bastion._core._errors import ActorNotAlive, MailboxFull
from bastion._core._ref import ActorRef
from bastion.agents._acks import submit_for_reply

if TYPE_CHECKING:
    from bastion.agents._persistent import PersistentAgent

__all__ = ["ACK_TURNS", "AckTurns", "CommitAcks", "commit_acks", "submit_ack"]

#: Turns of the event loop an acknowledged write waits for another group commit to
#: carry it before the coordinator starts one (each turn: one loop handle, no timer).
ACK_TURNS = 8


@dataclass(frozen=True, slots=True)
class CommitAcks:
    """Start the group commit of the acknowledgements waiting (sent by a coordinator to
    itself)."""


class AckTurns:
    """Counts the loop turns since an acknowledgement started waiting for a commit."""

    __slots__ = ("_left", "_ref")

    def __init__(self, ref: ActorRef) -> None:
        self._ref = ref
        self._left = -1  # not counting

    def arm(self) -> None:
        """An acknowledgement waits: send :class:`CommitAcks` after :data:`ACK_TURNS`
        turns (once for every acknowledgement that waits meanwhile)."""
        if self._left < 0:
            self._left = ACK_TURNS
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self._left -= 1
        if self._left > 0:
            asyncio.get_running_loop().call_soon(self._tick)
            return
        self._left = -1
        try:
            self._ref.cast_nowait(CommitAcks())
        except (ActorNotAlive, MailboxFull):
            return  # gone, or busy: the store commits the deferred write in flush_interval


async def submit_ack(agent: PersistentAgent, turns: AckTurns) -> None:
    """Submit the action's changes deferred; its reply waits for the group that takes them."""
    await submit_for_reply(agent, defer=True)
    last = agent._last_write
    if agent._reply_after is not None and last is not None and not last.done():
        turns.arm()  # (a store that applies at once, MemoryStore, has nothing to commit)


async def commit_acks(agent: PersistentAgent) -> None:
    """Start a group commit now if the agent's last write is still waiting for one."""
    last = agent._last_write
    if last is not None and not last.done():
        fut = await agent.store.submit([], defer=False)  # commits every batch before it
        fut.add_done_callback(_seen)


def _seen(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # a failure reaches the agent through its own write
