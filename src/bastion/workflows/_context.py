"""``WorkflowContext``: what workflow code calls to do durable work.

Every durable operation (a step, a sleep, a receive, a send, an event, a patch marker)
takes the next *step number*. On the first run its outcome is recorded under that
number; on a replay (after a crash or restart) the recorded outcome is returned
without running anything. A recorded number that holds another operation than the
code now asks for is a :class:`~bastion.workflows.NonDeterministicWorkflow` error.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from bastion._core._durations import non_negative_seconds, positive_seconds
from bastion.persistence import DeleteItem, PutItem
from bastion.workflows._definitions import StepOptions, step_options
from bastion.workflows._records import (
    EVENTS,
    INBOX,
    NULL,
    StepKind,
    StepRecord,
    StepStatus,
    inbox_key,
    namespace_of,
)
from bastion.workflows._signals import read_event, record_waiting
from bastion.workflows._steps import check_recorded, run_step

if TYPE_CHECKING:
    from bastion.workflows._run import Run

__all__ = ["WorkflowContext"]

R = TypeVar("R")


def _options_of(fn: Callable[..., Any]) -> StepOptions:
    options = step_options(fn)
    return options if options is not None else _plain_options(fn)


@functools.lru_cache(maxsize=1024)
def _plain_options(fn: Callable[..., Any]) -> StepOptions:
    if not callable(fn):
        raise TypeError(f"ctx.step needs a function, got {fn!r}")
    return StepOptions(name=getattr(fn, "__qualname__", None) or type(fn).__qualname__)


class WorkflowContext:
    """The first argument of a ``@workflow`` function: durable steps, time and messages.

    Workflow code must be deterministic between runs: the same inputs and recorded
    outcomes must lead to the same sequence of context calls. Do I/O, randomness and
    clock reads in steps.
    """

    __slots__ = ("_run",)

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def workflow_id(self) -> str:
        """The id of this workflow."""
        return self._run.id

    @property
    def name(self) -> str:
        """The registered name of this workflow."""
        return self._run.definition.name

    @property
    def version(self) -> str:
        """The version this workflow started on (the code running it has the same)."""
        return self._run.meta.version

    def step(
        self, fn: Callable[..., Awaitable[R] | R], /, *args: Any, **kwargs: Any
    ) -> Awaitable[R]:
        """Run ``fn(*args, **kwargs)`` (async or sync) as the next recorded step.

        ``fn``'s ``@step`` options apply if it has them (else: one attempt, no timeout).
        """
        return self._call_step(fn, _options_of(fn), args, kwargs)

    def _call_step(
        self,
        fn: Callable[..., Any],
        options: StepOptions,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Awaitable[Any]:
        run = self._run
        step_no = run.next_no  # taken now, in call order, even under asyncio.gather
        run.next_no = step_no + 1
        return run_step(run, step_no, fn, options, args, kwargs)

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``; the wake-up time is stored, so a restart does not reset it."""
        non_negative_seconds("sleep seconds", seconds)
        run, step_no = self._take()
        rec = await _recorded(run, step_no, StepKind.SLEEP, "sleep")
        if rec is not None:
            wake = rec.not_before or 0.0
        else:
            wake = await record_waiting(run, step_no, "sleep", StepKind.SLEEP, seconds)
        await run.core.sleep_until(wake)

    async def recv(self, topic: str, *, timeout: float) -> Any:
        """The next message sent to this workflow on ``topic``; None after ``timeout`` s.

        The message is taken from the inbox and recorded in one batch (exactly once
        into the history); the deadline is stored, so it survives a restart.
        """
        _check_topic(topic)
        positive_seconds("recv timeout", timeout)
        run, step_no = self._take()
        name = f"recv:{topic}"
        rec = await _recorded(run, step_no, StepKind.RECV, name)
        core = run.core
        if rec is not None:
            if rec.status is StepStatus.COMPLETED:
                return core.decode(rec.result)
            deadline = rec.not_before or 0.0
        else:
            if _first_message(run, topic) is not None:
                return await _take_message(run, step_no, topic, name)
            deadline = await record_waiting(run, step_no, name, StepKind.RECV, timeout)
        while _first_message(run, topic) is None:
            left = deadline - core.wall()
            if left <= 0:
                done = StepRecord(name=name, kind=StepKind.RECV, result=NULL)
                done.finished_at = core.wall()
                await run.write([run.record(step_no, done)])
                return None
            arrival = run.waiters.get(topic)
            if arrival is None or arrival.done():
                arrival = run.waiters[topic] = asyncio.get_running_loop().create_future()
            await asyncio.wait((arrival,), timeout=left)
        return await _take_message(run, step_no, topic, name)

    async def send(self, workflow_id: str, topic: str, value: Any) -> None:
        """Send ``value`` to workflow ``workflow_id`` on ``topic``, exactly once.

        Raises :class:`~bastion.agents.UnknownWorkflow`, :class:`WorkflowFinished` or
        :class:`InboxFull` (nothing sent, nothing recorded: the call may be retried).
        """
        _check_topic(topic)
        run, step_no = self._take()
        name = f"send:{workflow_id}:{topic}"
        if await _recorded(run, step_no, StepKind.SEND, name) is not None:
            return
        core = run.core
        data = core.codec.encode(value)
        await core.check_target(workflow_id)
        key = inbox_key(topic, core.sequence())
        sent = StepRecord(name=name, kind=StepKind.SEND, finished_at=core.wall())
        await run.write(
            [PutItem(namespace_of(workflow_id), INBOX, key, data), run.record(step_no, sent)]
        )
        core.deliver(workflow_id, topic, key, data)

    async def set_event(self, key: str, value: Any) -> None:
        """Publish ``value`` under ``key`` for :meth:`WorkflowEngine.get_event` readers."""
        _check_topic(key, "event key")
        run, step_no = self._take()
        name = f"set_event:{key}"
        if await _recorded(run, step_no, StepKind.SET_EVENT, name) is not None:
            return
        core = run.core
        data = core.codec.encode(value)
        done = StepRecord(name=name, kind=StepKind.SET_EVENT, finished_at=core.wall())
        await run.write([PutItem(run.namespace, EVENTS, key, data), run.record(step_no, done)])
        core.event_set(run.id, key, data)

    async def get_event(self, workflow_id: str, key: str, *, timeout: float) -> Any:
        """The event ``key`` of another workflow (None after ``timeout`` s), recorded; the
        deadline is stored, so it survives a restart."""
        _check_topic(key, "event key")
        positive_seconds("get_event timeout", timeout)
        run, step_no = self._take()
        name = f"get_event:{workflow_id}:{key}"
        rec = await _recorded(run, step_no, StepKind.GET_EVENT, name)
        return await read_event(run, step_no, rec, name, workflow_id, key, timeout)

    def patched(self, change_id: str) -> bool:
        """Whether to take the new code path of change ``change_id``.

        True for a workflow that reaches this point under code that has the change (a
        marker is recorded with its next write); False for one whose history was made
        by code without it (replay keeps the old path)::

            if ctx.patched("new-summary"):
                summary = await summarize_v2(text)
            else:
                summary = await summarize(text)
        """
        _check_topic(change_id, "change id")
        run = self._run
        step_no = run.next_no
        rec = run.history.get(step_no)
        if rec is None:
            marker = StepRecord(name=change_id, kind=StepKind.PATCH)
            run.pending_ops.append(run.record(step_no, marker))
        elif rec.kind is not StepKind.PATCH or rec.name != change_id:
            return False
        elif run.replay is not None:
            run.replay.reached(step_no, rec)
        run.next_no = step_no + 1
        return True

    def _take(self) -> tuple[Run, int]:
        run = self._run
        step_no = run.next_no
        run.next_no = step_no + 1
        return run, step_no

    def __repr__(self) -> str:
        return f"<WorkflowContext {self._run.id!r} of {self._run.definition.name!r}>"


def _check_topic(value: object, what: str = "topic") -> None:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ValueError(f"a {what} must be a non-empty string without NUL, got {value!r}")


async def _recorded(run: Run, step_no: int, kind: StepKind, name: str) -> StepRecord | None:
    """What step ``step_no`` recorded (None: nothing yet); NonDeterministicWorkflow unless
    it recorded ``kind`` ``name``. A recorded outcome is returned in its turn (``_replay``)."""
    rec = run.history.get(step_no)
    if rec is not None:
        check_recorded(run, step_no, rec, kind, name)
        if run.replay is not None:
            await run.replay.reach(step_no, rec)
    return rec


def _first_message(run: Run, topic: str) -> str | None:
    messages = run.inbox.get(topic)
    return min(messages) if messages else None


async def _take_message(run: Run, step_no: int, topic: str, name: str) -> Any:
    key = _first_message(run, topic)
    assert key is not None
    data = run.inbox[topic].pop(key)
    got = StepRecord(
        name=name, kind=StepKind.RECV, result=msgspec.Raw(data), finished_at=run.core.wall()
    )
    await run.write([run.record(step_no, got), DeleteItem(run.namespace, INBOX, key)])
    return run.core.codec.decode(data)
