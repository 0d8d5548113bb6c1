"""How a TaskAgent runs its queue: batches of tasks, their outcomes recorded and announced.

:class:`TaskRunner` is the engine under :class:`~bastion.agents.TaskAgent` (which adds
the actions, validation and restore): it takes the next queued task, runs a
plain-function handler inline (a batch of them per message, one per turn of the loop)
or an ``async`` one in a supervised task, records the outcome in the write that also
removes the task from the stored queue, and announces it to its requester once that
write is submitted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import msgspec

from bastion._core import _event_names, _events
from bastion._core._errors import ActorNotAlive, MailboxFull
from bastion._core._ref import ActorRef
from bastion.agents._frozen import builder
from bastion.agents._persistent import PersistentAgent
from bastion.agents._queue_stream import QueueStream
from bastion.agents._retention import OutcomeIndex
from bastion.agents._run_order import RunOrder
from bastion.agents._state import ItemMap
from bastion.agents._task_support import (
    HandlerModes,
    HandlerResult,
    ProcessNext,
    TaskDone,
    await_handler,
    call_handler,
    outcome_of,
    run_handler,
    send_done,
    task_outcome,
    task_view,
    with_duration,
)
from bastion.agents._task_types import (
    QueuedTask,
    Task,
    TaskAgentStatus,
    TaskFinished,
    TaskMetrics,
    TaskOutcome,
    TaskStatus,
    order_of,
)
from bastion.persistence import UnstorableValue, UnsupportedType
from bastion.telemetry import _hooks

if TYPE_CHECKING:
    from bastion.agents._task_agent import TaskAgent

__all__ = ["DONE", "TaskHandler", "TaskRunner"]

TaskHandler = Callable[[Task], Any | Awaitable[Any]]
"""A task handler: called with the :class:`Task`, returns the result (or awaitable)."""
DONE = "done"
#: A batch of plain-function tasks handled in one message: at most this many tasks, and
#: it ends at the first task finishing past this many seconds (the loop's clock).
_BATCH_TASKS = 128
_BATCH_SECONDS = 0.02
_MAX_REPLY_REFS = 1024
_new_finished = builder(TaskFinished)  # one notice per task
_TASK_SPAN = tuple((*_event_names.AGENT_TASK, end) for end in ("start", "stop", "exception"))


class TaskRunner(PersistentAgent):
    """The queue-running half of a TaskAgent (its state fields are declared there)."""

    __slots__ = (  # framework-private (see Agent); set by TaskAgent.__init__
        "_agent_class",
        "_finished",
        "_handler_modes",
        "_kicked",
        "_meter",
        "_notify_failures",
        "_outcomes",
        "_reply_refs",
        "_run_order",
        "_running",
        "_stream",
    )

    _bastion_framework = True

    # Declared by TaskAgent (state fields with their defaults) and set by its __init__.
    status: TaskAgentStatus
    pause_reason: str | None
    processed_count: int
    failed_count: int
    consecutive_errors: int
    current_task: str | None
    current_attempt: int
    metrics: TaskMetrics
    queue: ItemMap[QueuedTask]
    handlers: dict[str, TaskHandler]
    task_timeout: float
    max_attempts: int
    pause_after_errors: int
    _run_order: RunOrder
    _running: asyncio.Task[None] | None
    _kicked: bool
    _notify_failures: int
    _handler_modes: HandlerModes
    _outcomes: OutcomeIndex | None
    _stream: QueueStream
    _finished: list[tuple[str | None, TaskOutcome]]
    _reply_refs: dict[str, ActorRef]
    _agent_class: str
    _meter: _hooks.TaskMeter | None

    def _kick(self) -> None:
        paused = self.status is TaskAgentStatus.PAUSED
        if self._kicked or paused or self.current_task or not self._run_order:
            return
        try:
            self.ref.cast_nowait(ProcessNext())
        except MailboxFull:
            return  # messages are waiting: the next one handled kicks again
        self._kicked = True

    async def _process_next(self) -> None:
        """Run a batch of queued tasks, then save their progress in one write.

        Whatever ends the batch (its end, a handler's ``BaseException``, a kill at one of
        its yields), the progress made is saved before the agent goes on or dies: what a
        crash can observe is the same as with a save after every task.
        """
        self._meter = _hooks.task_meter(self._agent_class)
        try:
            await self._run_batch()
        finally:
            if self._meter is not None:
                self._meter.close()
                self._meter = None
            await self._save_progress()

    async def _run_batch(self) -> None:
        """Start queued tasks until one runs in a task of its own, the queue is empty or
        paused, a message waits, a stop is asked for, or the batch is full.

        A plain-function handler runs here, one task per turn of the event loop, and the
        attempts and outcomes of a batch share one write at its end (any store). An
        ``async`` handler's attempt goes out with the previous outcomes before it starts.

        A write submitted before a plain handler would not be committed before it runs
        either (nobody waits for it, and the handler holds the loop that commits): the
        handler's attempt on SQLite reached the file only with the writes after it, so one
        write per batch changes no state a ``kill -9`` can observe, only how many tasks
        of a batch run again after one (none was announced: notices follow the write).
        """
        cell = self._bastion_cell
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _BATCH_SECONDS
        spans = _events.listened(_TASK_SPAN)  # (a handler attached meanwhile: next batch)
        now, name = self._bastion_clock.now, cell.name  # (fixed for the incarnation)
        plain: dict[str, TaskHandler] = {}  # task type -> its plain-function handler
        for _ in range(_BATCH_TASKS):
            if self._stream.cursor is not None and self._may_start():
                await self._stream.fill(cast("TaskAgent", self))  # no unread task comes first
            task = self._next_task()
            if task is None:
                return
            handler = plain.get(task.type)
            if handler is None:
                handler = self.handlers.get(task.type)
                if handler is None or self._handler_modes.is_async(task.type, handler):
                    await self._save_progress()  # the attempt on record before it starts
                    self._running = self.runtime.tasks.start(
                        self._run_task, task, name=f"task:{task.id}"
                    )
                    return
                plain[task.type] = handler
            await asyncio.sleep(0)  # one task per turn of the loop, as in a task of its own
            # A plain function cannot be interrupted, nor let the agent answer while it
            # runs, in a task of its own either: it runs here, with no task, no message.
            limit = task.timeout or self.task_timeout
            if spans:
                with _events.span(_event_names.AGENT_TASK, self._task_meta(task)):
                    called = call_handler(handler, task_view(task), limit, now)
            else:
                called = call_handler(handler, task_view(task), limit, now)
            if type(called) is HandlerResult:
                self._record(task, outcome_of(task, called, name))
            else:
                self._run_returned(task, handler, called, now)
            if self._running is not None or cell.queue or cell.stop_reason is not None:
                return  # the messages that arrived are answered before the next task
            if loop.time() >= deadline:
                return

    def _next_task(self) -> QueuedTask | None:
        """The next task to run, its attempt counted (tasks out of attempts are recorded
        as failed on the way); None if none may start now."""
        run_order, queue = self._run_order, self.queue
        while self.current_task is None and self.status is not TaskAgentStatus.PAUSED:
            entry = run_order.pop()
            if entry is None:
                return None
            task = queue.get(entry[1])
            if task is None:
                continue  # it left the queue meanwhile (its entry stays until popped)
            if task.attempts >= self.max_attempts:
                error = (
                    f"gave up after {task.attempts} attempts: the agent stopped while running it"
                )
                self._record(task, task_outcome(task, TaskStatus.FAILED, self.name, error=error))
                continue
            # The attempt goes in the state record; the queue row keeps its count until a
            # restore folds the attempt back into it.
            task.attempts += 1
            self.current_task, self.current_attempt = task.id, task.attempts
            self.status = TaskAgentStatus.PROCESSING
            return task
        return None

    def _may_start(self) -> bool:
        return self.status is not TaskAgentStatus.PAUSED and self.current_task is None

    async def _save_progress(self) -> None:
        """Save what changed (no wait), then tell the requesters of the tasks it records."""
        await self.persist(wait=False)
        self._send_notices()
        self._publish_load()

    def _run_returned(
        self, task: QueuedTask, handler: TaskHandler, called: Any, now: Callable[[], float]
    ) -> None:
        """A plain function returned an awaitable: finish it in a task of its own."""
        self._handler_modes.mark_async(task.type, handler)
        start = now()  # the limit applies to what it returned
        self._running = self.runtime.tasks.start(
            self._await_task, task, called, start, name=f"task:{task.id}"
        )

    async def _await_task(self, task: QueuedTask, pending: Awaitable[Any], start: float) -> None:
        run = await await_handler(pending, task.timeout or self.task_timeout, self.clock, start)
        await send_done(self.ref, TaskDone(task.id, outcome_of(task, run, self.name)))

    async def _run_task(self, task: QueuedTask) -> None:
        """Runs in its own supervised task, so the agent keeps answering meanwhile."""
        await send_done(self.ref, TaskDone(task.id, await self._execute(task)))

    async def _task_done(self, done: TaskDone) -> None:
        self._running = None
        task = self.queue.get(done.task_id)
        if task is None or self.current_task != done.task_id:
            return
        self._record(task, done.outcome)
        # Start the next task now: its start and this outcome share one write (ordered
        # after every earlier write; no acknowledgement waits on it).
        await self._process_next()

    async def _execute(self, task: QueuedTask) -> TaskOutcome:
        handler = self.handlers.get(task.type)
        if handler is None:
            error = f"no handler for {task.type!r}"
            return task_outcome(task, TaskStatus.FAILED, self.name, error=error)
        limit = task.timeout or self.task_timeout
        if _events.listened(_TASK_SPAN):
            with _events.span(_event_names.AGENT_TASK, self._task_meta(task)):
                run = await run_handler(handler, task_view(task), limit, self.clock)
        else:
            run = await run_handler(handler, task_view(task), limit, self.clock)
        return outcome_of(task, run, self.name)

    def _task_meta(self, task: QueuedTask) -> dict[str, Any]:
        return {**self._meta(), "task_id": task.id, "task_type": task.type}

    def _record(self, task: QueuedTask, outcome: TaskOutcome) -> None:
        task_id = task.id
        try:
            self.stage_item(DONE, task_id, outcome, TaskOutcome)
        except (UnsupportedType, UnstorableValue) as exc:  # the task fails, not the agent
            outcome = msgspec.structs.replace(
                outcome,
                status=TaskStatus.FAILED,
                result=None,
                error=f"result not storable: {exc}",
                retryable=False,
            )
            self.stage_item(DONE, task_id, outcome, TaskOutcome)
        if self._outcomes is not None:
            self._retain(task_id, outcome.finished_at)
        queue = self.queue
        if task_id in queue:
            del queue[task_id]
        if self.current_task == task_id:
            self.current_task, self.current_attempt = None, 0
            if self.status is TaskAgentStatus.PROCESSING:
                self.status = TaskAgentStatus.IDLE
        status, duration = outcome.status, outcome.duration
        if status is TaskStatus.COMPLETED:  # _count's common case, inlined: once per task
            self.processed_count += 1
            self.consecutive_errors = 0
            with_duration(self.metrics, duration)
        else:
            self._count(status, duration)
        meter = self._meter
        if meter is not None:
            meter.finished(status, duration)
        else:
            _hooks.task_finished(self._agent_class, status, duration)
        self._finished.append((task.reply_to, outcome))  # announced once saved

    def _retain(self, task_id: str, finished_at: float) -> None:
        """Retention: the outcomes it drops go out in the batch recording this one."""
        if self._outcomes is not None:
            for old in self._outcomes.add(task_id, finished_at, time.time()):
                self.unstage_item(DONE, old)

    def _count(self, status: TaskStatus, duration: float) -> None:
        if status is TaskStatus.COMPLETED:
            self.processed_count += 1
            self.consecutive_errors = 0
        else:
            self.failed_count += 1
            self.consecutive_errors += 1
            too_many = self.consecutive_errors >= self.pause_after_errors
            if too_many and self.status is not TaskAgentStatus.PAUSED:
                self._pause("consecutive_errors")
        with_duration(self.metrics, duration)

    def _pause(self, reason: str) -> None:
        self.status, self.pause_reason = TaskAgentStatus.PAUSED, reason
        self.set_health("paused", pause_reason=reason)
        _events.emit(
            _event_names.TASK_AGENT_PAUSED,
            {"consecutive_errors": self.consecutive_errors},
            {**self._meta(), "reason": reason},
        )
        self.publish("task_agent.paused", {"agent": self.name, "reason": reason})

    def _send_notices(self) -> None:
        """Tell each finished task's requester (and the signal bus); called once the write
        recording the outcomes has been submitted, so a notice never precedes its save."""
        finished, self._finished = self._finished, []
        signals = self.signals
        for reply_to, outcome in finished:
            if signals is not None:
                self.publish(f"task.{outcome.status}", outcome)
            if reply_to is None:
                continue
            try:
                self._reply_ref(reply_to).cast_nowait(_new_finished(outcome))
            except (ActorNotAlive, MailboxFull):
                self._notify_failures += 1  # the requester reads the outcome with `result`

    def _reply_ref(self, name: str) -> ActorRef:
        """A ref by name (it resolves the name on every use, so it can be kept)."""
        ref = self._reply_refs.get(name)
        if ref is None:
            if len(self._reply_refs) >= _MAX_REPLY_REFS:
                self._reply_refs.clear()
            ref = self._reply_refs[name] = self.runtime.ref(name)
        return ref

    def _publish_load(self) -> None:
        _hooks.set_gauge("bastion_task_agent_queue_length", len(self.queue), str(self.name))
        self.set_health(
            "paused" if self.status is TaskAgentStatus.PAUSED else "ok",
            queued=len(self.queue),
            load=len(self.queue),
            processed=self.processed_count,
            failed=self.failed_count,
        )

    async def _finish_stop(self, reason: Any) -> None:
        running, self._running = self._running, None
        if running is not None:
            running.cancel()  # the task stays queued and runs again after a restart
        await super()._finish_stop(reason)

    async def _roll_back(self) -> None:
        """Outcomes that were not saved are not announced; queue rows put back are
        runnable again."""
        self._finished = []
        await super()._roll_back()
        self._run_order = RunOrder((order_of(t), t.id) for t in self.queue.values())
