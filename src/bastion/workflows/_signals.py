"""In-process notifications of an engine: finished workflows, messages and events.

The store is the truth; these only wake waiters sooner (a waiter re-reads the store
after each wake-up, so a lost notification delays nothing past its own timeout).
:func:`read_event` is ``ctx.get_event``'s durable wait on them; :func:`record_waiting`
stores the deadline of every durable wait.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec

from bastion.agents._errors import UnknownWorkflow
from bastion.persistence import Codec, StateStore
from bastion.workflows._errors import InboxFull, WorkflowFinished
from bastion.workflows._records import (
    EVENTS,
    INBOX,
    META,
    NULL,
    Meta,
    StepKind,
    StepRecord,
    StepStatus,
    decode_meta,
    namespace_of,
)

if TYPE_CHECKING:
    from bastion.workflows._run import Run

__all__ = ["Signals", "read_event", "record_waiting"]


class Signals:
    """Waiters for results and events; delivery of messages to runs in memory."""

    store: StateStore
    codec: Codec
    max_inbox: int
    active: dict[str, Run | None]

    def __init__(self) -> None:
        self._results: dict[
            str, list[asyncio.Future[tuple[Meta | None, BaseException | None]]]
        ] = {}
        self._events: dict[tuple[str, str], list[asyncio.Future[bytes]]] = {}
        self.starting: set[str] = set()  # being started here: not in ``active`` yet
        self._early: dict[str, dict[str, tuple[str, bytes]]] = {}  # see ``deliver``

    # -- results -------------------------------------------------------------------------------
    def resolve(self, workflow_id: str, meta: Meta | None, error: BaseException | None) -> None:
        """Wake the waiters of ``workflow_id``'s result."""
        for fut in self._results.pop(workflow_id, ()):
            if not fut.done():
                fut.set_result((meta, error))

    def watch_result(
        self, workflow_id: str
    ) -> asyncio.Future[tuple[Meta | None, BaseException | None]]:
        """A future of the final meta (and live error) of a workflow; unwatch it after."""
        fut: asyncio.Future[tuple[Meta | None, BaseException | None]]
        fut = asyncio.get_running_loop().create_future()
        self._results.setdefault(workflow_id, []).append(fut)
        return fut

    def unwatch_result(
        self, workflow_id: str, fut: asyncio.Future[tuple[Meta | None, BaseException | None]]
    ) -> None:
        """Forget a future of :meth:`watch_result`."""
        waiters = self._results.get(workflow_id)
        if waiters is not None and fut in waiters:
            waiters.remove(fut)
            if not waiters:
                del self._results[workflow_id]

    # -- messages ------------------------------------------------------------------------------
    async def check_target(self, workflow_id: str) -> None:
        """Raise unless ``workflow_id`` exists, is not finished and has inbox room."""
        record = await self.store.read(namespace_of(workflow_id), META)
        if record is None:
            raise UnknownWorkflow(f"no workflow {workflow_id!r}")
        meta = decode_meta(record.data, workflow_id)
        if meta.status.finished:
            raise WorkflowFinished(
                f"workflow {workflow_id!r} is {meta.status.value}; it takes no messages"
            )
        run = self.active.get(workflow_id)
        if run is not None:
            unread = sum(len(m) for m in run.inbox.values())
        else:
            data = await self.store.load(namespace_of(workflow_id))
            unread = len(data.collections.get(INBOX, []))
        if unread >= self.max_inbox:
            raise InboxFull(
                f"workflow {workflow_id!r} has {unread} unread messages "
                f"(max_inbox={self.max_inbox}); nothing was sent",
                context={"workflow_id": workflow_id},
            )

    def deliver(self, workflow_id: str, topic: str, key: str, data: bytes) -> None:
        """A message to ``workflow_id`` was committed: hand it to its run, if in memory."""
        run = self.active.get(workflow_id)
        if run is not None:
            _hand_over(run, topic, key, data)
        elif workflow_id in self.active or workflow_id in self.starting:
            # being loaded or started: its read of the inbox may have missed this one
            self._early.setdefault(workflow_id, {})[key] = (topic, data)
        # (otherwise it is read with the rest of the inbox when the workflow is loaded)

    def take_early(self, run: Run) -> None:
        """Give a run just registered the messages delivered while it was being loaded."""
        for key, (topic, data) in self._early.pop(run.id, {}).items():
            _hand_over(run, topic, key, data)

    def drop_early(self, workflow_id: str) -> None:
        """Forget messages held for a workflow this engine will not run."""
        self._early.pop(workflow_id, None)

    # -- events --------------------------------------------------------------------------------
    def event_set(self, workflow_id: str, key: str, data: bytes) -> None:
        """A workflow's event was committed: wake its readers."""
        for fut in self._events.pop((workflow_id, key), ()):
            if not fut.done():
                fut.set_result(data)

    async def wait_event(self, workflow_id: str, key: str, timeout: float) -> bytes | None:
        """The stored bytes of an event, waiting up to ``timeout`` s for it; None after."""
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        waiters = self._events.setdefault((workflow_id, key), [])
        waiters.append(fut)  # before the read: a value set meanwhile wakes it
        try:
            data = await self.store.read_item(namespace_of(workflow_id), EVENTS, key)
            if data is not None:
                return data
            done, _ = await asyncio.wait((fut,), timeout=timeout)
        finally:
            if fut in waiters:
                waiters.remove(fut)
            if not waiters:
                self._events.pop((workflow_id, key), None)
        if done:
            return fut.result()
        return await self.store.read_item(namespace_of(workflow_id), EVENTS, key)

    def decode_value(self, data: bytes | None) -> Any:
        """A stored message or event value."""
        return None if data is None else self.codec.decode(data)


async def read_event(
    run: Run, step_no: int, rec: StepRecord | None, name: str, target: str, key: str,
    timeout: float,
) -> Any:  # fmt: skip
    """``ctx.get_event``: the event ``key`` of workflow ``target`` as step ``step_no``
    (``rec``: what that step recorded, if anything), None after ``timeout`` s.

    Unless the event is there at once, the deadline is stored first (a waiting step, as
    for ``ctx.recv``), so a restart waits only until it, not ``timeout`` s more.
    """
    core = run.core
    data: bytes | None = None
    if rec is not None:
        if rec.status is StepStatus.COMPLETED:
            return core.decode(rec.result)
        deadline = rec.not_before or 0.0  # waiting since before a restart
    elif (data := await core.store.read_item(namespace_of(target), EVENTS, key)) is None:
        deadline = await record_waiting(run, step_no, name, StepKind.GET_EVENT, timeout)
    if data is None:
        data = await core.wait_event(target, key, max(0.0, deadline - core.wall()))
    raw = NULL if data is None else msgspec.Raw(data)
    got = StepRecord(name=name, kind=StepKind.GET_EVENT, result=raw, finished_at=core.wall())
    await run.write([run.record(step_no, got)])
    return core.decode_value(data)


async def record_waiting(
    run: Run, step_no: int, name: str, kind: StepKind, seconds: float
) -> float:
    """Record step ``step_no`` as waiting until ``seconds`` from now; that deadline.

    A durable wait (``ctx.sleep``, ``ctx.recv``, ``ctx.get_event``) stores its deadline
    before it waits, so a restart mid-wait waits only until it, not ``seconds`` more.
    """
    now = run.core.wall()
    deadline = now + seconds
    waiting = StepRecord(
        name=name, kind=kind, status=StepStatus.WAITING, not_before=deadline, started_at=now
    )
    await run.write([run.record(step_no, waiting)])
    return deadline


def _hand_over(run: Run, topic: str, key: str, data: bytes) -> None:
    run.inbox.setdefault(topic, {})[key] = data
    waiter = run.waiters.pop(topic, None)
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
