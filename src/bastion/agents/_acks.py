"""Acknowledged actions of a PersistentAgent: the reply waits for the commit, the agent not.

After an action that a caller waits for, the agent submits its changes and moves on to its
next message; the caller's reply is sent when that write commits (the kernel's deferred
reply: ``defer_reply`` and ``NoReply``, what ``reply_handle()`` does without a handle
object). Writes commit in submission order, so replies leave in order, and the store's
group commit takes the changes of every message handled meanwhile in its next group
instead of one commit per acknowledgement. A store
with ``submit_then`` (SQLite) calls the :class:`PendingReply` in the pass that resolves
the group, so the reply leaves with its commit; with any other store it is called from
the write's future. A failed write fails the reply (``ActorCrashed``) and kills the
agent, which restores from the store as after any failed write.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bastion._core._cell_services import answer_deferred, defer_reply
from bastion._core._errors import ActorCrashed
from bastion._core._replies import NoReply
from bastion.persistence import Durability, InvalidState, StoreError, WriteResult

if TYPE_CHECKING:
    from bastion.agents._persistent import PersistentAgent

__all__ = ["PendingReply", "reply_after_commit", "submit_for_reply"]


class PendingReply:
    """The reply of one acknowledged action, released when its write commits or fails.

    Called once with the write's error (None: committed). The reply itself is known only
    after the action returned (:meth:`release`); whichever comes second sends it.
    """

    __slots__ = ("_agent", "_answer", "_error", "_settled")

    def __init__(self, agent: PersistentAgent) -> None:
        self._agent = agent
        self._answer: tuple[asyncio.Future[Any], Any] | None = None
        self._error: BaseException | None = None
        self._settled = False

    def __call__(self, error: BaseException | None) -> None:
        if self._settled:
            return
        self._settled, self._error = True, error
        answer, self._answer = self._answer, None
        if answer is not None:
            _send(self._agent, *answer, error)
        if error is not None:
            self._agent.ref.kill(error)  # a no-op if it is already gone; it restores

    def settle_from(self, future: asyncio.Future[WriteResult]) -> None:
        """Settle from the write's future (stores without ``submit_then``)."""
        self(future.exception() if not future.cancelled() else StoreError("write cancelled"))

    def release(self, result: Any) -> Any:
        """``result`` if the write is already committed (its error if it failed), else
        ``NoReply``: the reply goes out when the write settles."""
        if self._settled:
            if self._error is not None:
                raise self._error
            return result
        # the call's future itself, answered on commit (no ReplyHandle per action)
        self._answer = (defer_reply(self._agent._bastion_cell), result)
        return NoReply


async def submit_for_reply(agent: PersistentAgent, *, defer: bool = False) -> None:
    """Submit the agent's changes (or an empty batch behind an unfinished write) without
    waiting; the reply of the action being handled waits for it.

    ``defer=True``: the batch joins the store's next group commit instead of starting one
    (the agent makes sure one starts soon, e.g. by an empty urgent batch).
    """
    agent._raise_failed_write()
    try:
        ops = agent._collect_ops()
    except InvalidState:
        await agent._roll_back()
        raise
    last = agent._last_write
    if ops or (last is not None and not last.done()):
        pending = PendingReply(agent)
        store, sync = agent.store, agent.durability is Durability.STRICT
        submit_then = None if defer else getattr(store, "submit_then", None)  # optional
        if submit_then is not None:
            fut: asyncio.Future[WriteResult] = await submit_then(ops, pending, sync=sync)
        else:
            fut = await store.submit(ops, sync=sync, defer=defer)
            if fut.done():
                pending.settle_from(fut)
            else:
                fut.add_done_callback(pending.settle_from)
        agent._last_write, agent._reply_after = fut, pending


def reply_after_commit(agent: PersistentAgent, result: Any) -> Any:
    """``result``, or ``NoReply`` (answered on commit) while the action's write is pending."""
    pending, agent._reply_after = agent._reply_after, None
    return result if pending is None else pending.release(result)


def _send(
    agent: PersistentAgent, reply: asyncio.Future[Any], result: Any, error: BaseException | None
) -> None:
    if error is None:
        answer_deferred(agent._bastion_cell, reply, result)
    else:
        crashed = ActorCrashed(f"{agent!r}: the write of this action failed: {error!r}")
        crashed.__cause__ = error
        answer_deferred(agent._bastion_cell, reply, None, crashed)
