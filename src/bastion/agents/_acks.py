"""Acknowledged actions of a PersistentAgent: the reply waits for the commit, the agent not.

After an action that a caller waits for, the agent submits its changes and moves on to its
next message; the caller's reply is sent when that write commits (the kernel's deferred
reply: ``reply_handle()`` and ``NoReply``). Writes commit in submission order, so
replies leave in order, and the store's group commit takes the changes of every message
handled meanwhile in its next group instead of one commit per acknowledgement. A failed
write fails the reply (``ActorCrashed``) and kills the agent, which restores from the
store as after any failed write.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bastion._core._errors import ActorCrashed
from bastion._core._replies import NoReply
from bastion.persistence import Durability, InvalidState, StoreError, WriteResult

if TYPE_CHECKING:
    from bastion.agents._persistent import PersistentAgent

__all__ = ["reply_after_commit", "submit_for_reply"]


async def submit_for_reply(agent: PersistentAgent) -> None:
    """Submit the agent's changes (or an empty batch behind an unfinished write) without
    waiting; the reply of the action being handled waits for it."""
    agent._raise_failed_write()
    try:
        ops = agent._collect_ops()
    except InvalidState:
        await agent._roll_back()
        raise
    last = agent._last_write
    if ops or (last is not None and not last.done()):
        fut = await agent.store.submit(ops, sync=agent.durability is Durability.STRICT, defer=False)
        fut.add_done_callback(lambda f: _crash_on_failure(agent, f))
        agent._last_write = agent._reply_after = fut


def reply_after_commit(agent: PersistentAgent, result: Any) -> Any:
    """``result``, or ``NoReply`` (answered on commit) while the action's write is pending."""
    pending, agent._reply_after = agent._reply_after, None
    if pending is None:
        return result
    if not pending.done():
        handle = agent.reply_handle()

        def answer(fut: asyncio.Future[WriteResult]) -> None:
            error = fut.exception() if not fut.cancelled() else StoreError("write cancelled")
            if error is None:
                handle.reply(result)
            else:
                crashed = ActorCrashed(f"{agent!r}: the write of this action failed: {error!r}")
                crashed.__cause__ = error
                handle.fail(crashed)

        pending.add_done_callback(answer)
        return NoReply
    error = None if pending.cancelled() else pending.exception()
    if error is not None:
        raise error
    return result


def _crash_on_failure(agent: PersistentAgent, fut: asyncio.Future[WriteResult]) -> None:
    error = None if fut.cancelled() else fut.exception()
    if error is not None:
        agent.ref.kill(error)  # a no-op if it is already gone; it restores from the store
