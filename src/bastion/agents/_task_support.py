"""Pure helpers of the TaskAgent: task validation and running one handler."""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bastion._core._clock import Clock
from bastion._core._errors import ActorNotAlive, MailboxFull
from bastion._core._ref import ActorRef
from bastion.agents._frozen import builder
from bastion.agents._task_types import (
    PRIORITIES,
    QueuedTask,
    Task,
    TaskMetrics,
    TaskOutcome,
    TaskSpec,
    TaskStatus,
)
from bastion.persistence import Codec, UnsupportedType
from bastion.resilience import is_retryable

__all__ = [
    "HandlerModes",
    "HandlerResult",
    "ProcessNext",
    "TaskDone",
    "await_handler",
    "call_handler",
    "count_priorities",
    "is_async_handler",
    "outcome_of",
    "run_handler",
    "send_done",
    "task_outcome",
    "task_view",
    "task_problems",
    "with_duration",
]

_NAMES = {v: k for k, v in PRIORITIES.items()}

Handler = Callable[[Task], Any | Awaitable[Any]]
#: Results that are never awaitable: checked first, the ABC check of an awaitable is slow.
_PLAIN_RESULTS = (type(None), bool, int, float, str, bytes, dict, list, tuple)


@dataclass(frozen=True, slots=True)
class ProcessNext:
    """A TaskAgent's message to itself: start the next queued task."""


@dataclass(frozen=True, slots=True)
class TaskDone:
    """Sent by a running task to its TaskAgent with the outcome."""

    task_id: str
    outcome: TaskOutcome


def task_problems(spec: TaskSpec, handlers: Mapping[str, Handler], codec: Codec) -> list[str]:
    """Everything wrong with ``spec`` (empty if it can be queued)."""
    errors = []
    if spec.type not in handlers:
        errors.append(f"no handler for task type {spec.type!r}; known: {sorted(handlers)}")
    if spec.timeout is not None and not 0 < spec.timeout < math.inf:
        errors.append(f"timeout must be finite and > 0, got {spec.timeout!r}")
    if spec.id is not None and not spec.id.strip():
        errors.append("id must not be blank")
    try:
        codec.encode(spec.payload)
        codec.encode(spec.inputs)
    except UnsupportedType as exc:
        errors.append(str(exc))
    return errors


@dataclass(slots=True)  # not frozen: one per task, and a frozen init costs a setattr per field
class HandlerResult:
    """What one handler run produced."""

    status: TaskStatus
    value: Any
    error: str | None
    duration: float
    retryable: bool = True


def call_handler(
    handler: Handler, task: Task, limit: float, now: Callable[[], float]
) -> HandlerResult | Awaitable[Any]:
    """Call ``handler``: a plain function's result (or failure) at once, else its awaitable.

    ``now`` is the agent clock's ``now``. A plain function runs to its end whatever the
    limit (nothing can interrupt it), so it runs without a timer; :func:`await_handler`
    finishes an awaitable under the limit.
    """
    start = now()
    try:
        value = handler(task)
    except TimeoutError:
        return HandlerResult(TaskStatus.FAILED, None, f"timed out after {limit}s", now() - start)
    except Exception as exc:  # noqa: BLE001 -- a handler's failure is the task's outcome, recorded, not swallowed
        return _failed(exc, now() - start)
    if not isinstance(value, _PLAIN_RESULTS) and inspect.isawaitable(value):
        return value
    return HandlerResult(TaskStatus.COMPLETED, value, None, now() - start)


async def await_handler(
    value: Awaitable[Any], limit: float, clock: Clock, start: float
) -> HandlerResult:
    """Await what a handler returned, under ``limit`` seconds since ``start``."""
    try:
        async with asyncio.timeout(limit):
            value = await value
    except TimeoutError:
        return HandlerResult(
            TaskStatus.FAILED, None, f"timed out after {limit}s", clock.now() - start
        )
    except Exception as exc:  # noqa: BLE001 -- a handler's failure is the task's outcome, recorded, not swallowed
        return _failed(exc, clock.now() - start)
    return HandlerResult(TaskStatus.COMPLETED, value, None, clock.now() - start)


async def run_handler(handler: Handler, task: Task, limit: float, clock: Clock) -> HandlerResult:
    """Run one handler under ``limit`` seconds.

    Whether a failure is worth another attempt is :func:`bastion.resilience.is_retryable`
    (the one classification): a timeout or a retryable infrastructure error is; an
    expected error, or an exception no rule classifies (a bug), is not.
    """
    start = clock.now()
    called = call_handler(handler, task, limit, clock.now)
    if isinstance(called, HandlerResult):
        return called
    return await await_handler(called, limit, clock, start)


def is_async_handler(handler: Handler) -> bool:
    """Whether ``handler`` is declared ``async`` (a function, or an object with ``__call__``)."""
    call = getattr(handler, "__call__", None)  # noqa: B004 -- the method, not callability
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


def _failed(exc: Exception, duration: float) -> HandlerResult:
    return HandlerResult(
        TaskStatus.FAILED, None, f"{type(exc).__name__}: {exc}", duration, is_retryable(exc)
    )


def count_priorities(tasks: Iterable[QueuedTask]) -> dict[str, int]:
    """Queued tasks per priority name."""
    counts = {name: 0 for name in PRIORITIES}
    for t in tasks:
        counts[_NAMES[t.priority]] += 1
    return counts


def with_duration(m: TaskMetrics, d: float) -> TaskMetrics:
    """``m`` with one more finished task of ``d`` seconds (updated in place: each agent
    owns its metrics; the saved state record is re-encoded from them)."""
    m.total_duration += d
    m.timed += 1
    if m.fastest is None or d < m.fastest:
        m.fastest = d
    if m.slowest is None or d > m.slowest:
        m.slowest = d
    return m


class HandlerModes:
    """Whether each task type's handler is ``async`` (checked once per handler)."""

    def __init__(self) -> None:
        self._modes: dict[str, tuple[Handler, bool]] = {}

    def is_async(self, task_type: str, handler: Handler) -> bool:
        """Whether ``handler`` (the one registered for ``task_type`` now) is async."""
        known = self._modes.get(task_type)
        if known is None or known[0] is not handler:
            known = self._modes[task_type] = (handler, is_async_handler(handler))
        return known[1]

    def mark_async(self, task_type: str, handler: Handler) -> None:
        """``handler`` returned an awaitable although it is a plain function."""
        self._modes[task_type] = (handler, True)


_new_task = builder(Task)


def task_view(task: QueuedTask) -> Task:
    """What a handler receives for ``task`` (equal to ``Task(...)``, built faster)."""
    return _new_task(task.id, task.type, task.payload, task.attempts, dict(task.inputs))


def task_outcome(
    task: QueuedTask,
    status: TaskStatus,
    agent: str | None,
    *,
    result: Any = None,
    error: str | None = None,
    duration: float = 0.0,
    retryable: bool = True,
) -> TaskOutcome:
    """The outcome of ``task`` run by ``agent``, finished now."""
    return TaskOutcome(
        id=task.id,
        type=task.type,
        status=status,
        result=result,
        error=error,
        attempts=task.attempts,
        duration=duration,
        finished_at=time.time(),
        agent=agent,
        retryable=retryable,
    )


def outcome_of(task: QueuedTask, run: HandlerResult, agent: str | None) -> TaskOutcome:
    """The outcome of ``task`` from its handler's run, finished now."""
    return TaskOutcome(
        id=task.id,
        type=task.type,
        status=run.status,
        result=run.value,
        error=run.error,
        attempts=task.attempts,
        duration=run.duration,
        finished_at=time.time(),
        agent=agent,
        retryable=run.retryable,
    )


async def send_done(ref: ActorRef, done: Any) -> None:
    """Give a finished task's outcome to its agent (from the task that ran it), or any
    other answer that must not be lost to a full mailbox."""
    while True:
        try:
            await ref.cast(done)
            return
        except ActorNotAlive:
            return  # the agent stopped: the task is still queued and runs again
        except MailboxFull:
            continue  # the agent is alive but swamped: keep offering the outcome
