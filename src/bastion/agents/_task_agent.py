"""``TaskAgent``: a durable, bounded priority queue of tasks run by registered handlers.

``await rt.spawn(TaskAgent, name="w1", store=store, handlers={"fetch": fetch})``, then
``await act(ref, "queue", type="fetch", payload={"url": u}, priority="high")``.
At-least-once: a task leaves the stored queue in the same atomic write that records its
outcome (once per task id). The task running at a crash runs again after the restart;
after ``max_attempts`` it is recorded as failed instead.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from bastion._core import _event_names, _events
from bastion._core._actor import sets_no_reserved_member
from bastion._core._durations import positive_seconds
from bastion._core._errors import ExpectedError
from bastion._core._ref import ActorRef
from bastion.agents._actions import action
from bastion.agents._errors import AgentPaused, InvalidTask, QueueFull
from bastion.agents._offers import TAKES_OFFERS, QueueOffer, take_offer, takes_offers
from bastion.agents._queue_stream import QueueStream, StreamQueue
from bastion.agents._retention import OutcomeIndex, OutcomeRetention
from bastion.agents._run_order import RunOrder
from bastion.agents._state import ItemMap
from bastion.agents._task_runner import DONE, TaskHandler, TaskRunner
from bastion.agents._task_support import (
    HandlerModes,
    ProcessNext,
    TaskDone,
    count_priorities,
    task_problems,
)
from bastion.agents._task_types import (
    PRIORITIES,
    QueuedTask,
    TaskAccepted,
    TaskAgentStatistics,
    TaskAgentStatus,
    TaskMetrics,
    TaskOutcome,
    TaskQueue,
    TaskSpec,
    TaskValidation,
    order_of,
)
from bastion.telemetry import _hooks

__all__ = ["DONE", "TaskAgent", "TaskHandler"]

_ids = itertools.count(1)


class TaskAgent(TaskRunner):
    """Runs queued tasks one at a time, highest priority first, FIFO within a priority."""

    capabilities = ("task_processing", "validation", "queue_management")
    persistent_fields = (
        "status",
        "pause_reason",
        "processed_count",
        "failed_count",
        "consecutive_errors",
        "seq",
        "current_task",
        "current_attempt",
        "metrics",
        "recovered_in_flight",
        "queue",
    )
    _bastion_framework = True

    status: TaskAgentStatus = TaskAgentStatus.IDLE
    pause_reason: str | None = None
    processed_count: int = 0
    failed_count: int = 0
    consecutive_errors: int = 0
    seq: int = 0
    current_task: str | None = None
    #: The attempt of ``current_task`` now running; its queue row gets it back at restore.
    current_attempt: int = 0
    metrics: TaskMetrics = TaskMetrics()
    recovered_in_flight: int = 0
    queue: ItemMap[QueuedTask] = TaskQueue()  # counts per priority: ``status`` is O(1)

    task_handlers: ClassVar[Mapping[str, TaskHandler]] = {}

    @sets_no_reserved_member
    def __init__(
        self,
        *,
        handlers: Mapping[str, TaskHandler] | None = None,
        max_queue_size: int = 1000,
        task_timeout: float = 30.0,
        max_attempts: int = 3,
        pause_after_errors: int = 10,
        retention: OutcomeRetention | None = None,
        **kwargs: Any,
    ) -> None:
        """``handlers``: task type → callable(Task); ``retention``: how many / how old
        finished outcomes are kept (None: until ``forget``); other keywords go to
        PersistentAgent."""
        super().__init__(**kwargs)
        if max_queue_size < 1 or max_attempts < 1 or pause_after_errors < 1:
            raise ValueError("max_queue_size, max_attempts and pause_after_errors must be >= 1")
        positive_seconds("task_timeout", task_timeout)
        self.handlers: dict[str, TaskHandler] = {**self.task_handlers, **(handlers or {})}
        self.max_queue_size = max_queue_size
        self.task_timeout = task_timeout
        self.max_attempts = max_attempts
        self.pause_after_errors = pause_after_errors
        self._run_order = RunOrder()  # (order_of(task), id) of the queued tasks
        self._running: asyncio.Task[None] | None = None
        self._kicked = False
        self._notify_failures = 0
        self._handler_modes = HandlerModes()
        self._outcomes = None if retention is None else OutcomeIndex(retention)
        self._stream = QueueStream()  # a large queue is restored page by page
        #: Finished tasks (reply_to, outcome) whose notices wait for the save recording them.
        self._finished: list[tuple[str | None, TaskOutcome]] = []
        self._reply_refs: dict[str, ActorRef] = {}
        self._agent_class = type(self).__qualname__
        self._meter: _hooks.TaskMeter | None = None  # during a batch

    def agent_capabilities(self) -> tuple[str, ...]:
        """The class capabilities plus one per registered task type."""
        return (*self.capabilities, *sorted(self.handlers))

    # -- actions -----------------------------------------------------------------------
    @action(name="queue")
    async def queue_task(self, spec: TaskSpec) -> TaskAccepted:
        """Queue a task (idempotent by ``id``); QueueFull if the queue is full."""
        return await self._queue(spec, outcome_possible=True)

    async def _queue(self, spec: TaskSpec, *, outcome_possible: bool) -> TaskAccepted:
        """``queue``; ``outcome_possible=False``: the id is known to have no outcome
        here (a step new on this agent's store), so its outcome is not read."""
        self._check(spec)
        if spec.id is not None:
            known = await self._known(spec.id, outcome_possible)
            if known is not None:
                return known
        if len(self.queue) >= self.max_queue_size:
            raise QueueFull(
                f"{self.name}: the queue holds {len(self.queue)} tasks (max {self.max_queue_size})",
                context={"agent": self.name},
            )
        task = self._enqueue(spec)
        return TaskAccepted(id=task.id, state="queued", queued=len(self.queue))

    @action
    async def queue_many(self, tasks: list[TaskSpec]) -> list[TaskAccepted]:
        """Queue several tasks atomically: all are queued, or none (QueueFull, InvalidTask).

        Idempotent by ``id`` like ``queue``: a task whose id is queued, running or has an
        outcome here is not queued again; its entry answers what ``queue`` would (so a
        caller may retry a ``queue_many`` whose reply it never saw). One id twice in one
        call is an ``InvalidTask``.
        """
        for spec in tasks:
            self._check(spec)
        ids = Counter(spec.id for spec in tasks if spec.id is not None)
        if ids and max(ids.values()) > 1:
            twice = sorted(i for i, n in ids.items() if n > 1)
            raise InvalidTask(
                f"{self.name}: task ids given twice in one queue_many: {twice}",
                context={"errors": [f"duplicate id {i!r}" for i in twice]},
            )
        known: dict[int, TaskAccepted] = {}
        for n, spec in enumerate(tasks):
            if spec.id is not None and (found := await self._known(spec.id)) is not None:
                known[n] = found
        if len(self.queue) + len(tasks) - len(known) > self.max_queue_size:
            raise QueueFull(
                f"{self.name}: {len(tasks) - len(known)} more tasks would exceed "
                f"{self.max_queue_size}",
                context={"agent": self.name},
            )
        return [
            known.get(n)
            or TaskAccepted(id=self._enqueue(s).id, state="queued", queued=len(self.queue))
            for n, s in enumerate(tasks)
        ]

    @action
    async def process(self, spec: TaskSpec) -> TaskOutcome:
        """Run a task now, bypassing the queue, and return its outcome."""
        self._check(spec)
        if self.status is TaskAgentStatus.PAUSED:
            raise AgentPaused(f"{self.name} is paused ({self.pause_reason})")
        task = self._make(spec)
        task.attempts = 1
        outcome = await self._execute(task)
        self._record(task, outcome)
        return outcome

    @action
    def pause(self, reason: str = "manual") -> str:
        """Stop taking tasks from the queue (the running one finishes)."""
        self._pause(reason)
        return self.status

    @action
    def resume(self) -> str:
        """Take tasks again; resets the consecutive-error count."""
        self.status = TaskAgentStatus.PROCESSING if self.current_task else TaskAgentStatus.IDLE
        self.pause_reason = None
        self.consecutive_errors = 0
        self.set_health("ok")
        return self.status

    @action(name="status")
    def get_status(self) -> TaskAgentStatistics:
        """Queue, counters and durations."""
        return self.statistics()

    @action(name="metrics")
    def get_metrics(self) -> dict[str, Any]:
        """processed, failed, average / fastest / slowest duration (seconds)."""
        s = self.statistics()
        return {
            "processed": s.processed,
            "failed": s.failed,
            "average": s.average_duration,
            "fastest": s.fastest,
            "slowest": s.slowest,
        }

    @action
    def validate(self, spec: TaskSpec) -> TaskValidation:
        """Check a task without queueing it."""
        errors = self._problems(spec)
        return TaskValidation(not errors, tuple(errors))

    @action
    async def result(self, task_id: str) -> TaskOutcome | None:
        """The recorded outcome of a task (read from the store), or None."""
        value: TaskOutcome | None = await self.read_item(DONE, task_id, TaskOutcome)
        return value

    @action
    def forget(self, task_ids: list[str]) -> int:
        """Delete recorded outcomes that are no longer needed."""
        for task_id in task_ids:
            self.unstage_item(DONE, task_id)
            if self._outcomes is not None:
                self._outcomes.discard(task_id)
        return len(task_ids)

    def statistics(self) -> TaskAgentStatistics:
        """A snapshot (also the reply of the ``status`` action)."""
        queue = self.queue
        by_priority = (
            queue.by_priority()
            if isinstance(queue, TaskQueue)
            else count_priorities(queue.values())
        )
        m = self.metrics
        oldest = queue.oldest(self.current_task) if isinstance(queue, TaskQueue) else None
        return TaskAgentStatistics(
            name=self.name,
            status=self.status,
            pause_reason=self.pause_reason,
            queued=len(self.queue),
            queued_by_priority=by_priority,
            current_task=self.current_task,
            processed=self.processed_count,
            failed=self.failed_count,
            consecutive_errors=self.consecutive_errors,
            recovered_in_flight=self.recovered_in_flight,
            average_duration=m.total_duration / m.timed if m.timed else None,
            fastest=m.fastest,
            slowest=m.slowest,
            max_queue_size=self.max_queue_size,
            notify_failures=self._notify_failures,
            oldest_queued_at=None if oldest is None else oldest.enqueued_at,
        )

    def _problems(self, spec: TaskSpec) -> list[str]:
        return task_problems(spec, self.handlers, self.codec)

    def _check(self, spec: TaskSpec) -> None:
        errors = self._problems(spec)
        if errors:
            raise InvalidTask(
                f"{self.name}: invalid task: {'; '.join(errors)}", context={"errors": errors}
            )

    async def _known(self, task_id: str, outcome_possible: bool = True) -> TaskAccepted | None:
        if task_id in self.queue:
            if task_id == self.current_task:
                return TaskAccepted(id=task_id, state="in_progress", queued=len(self.queue))
            return TaskAccepted(id=task_id, state="queued", queued=len(self.queue))
        if await self._stream.holds(self, task_id):  # queued, its page not read yet
            return TaskAccepted(id=task_id, state="queued", queued=len(self.queue))
        if not outcome_possible:
            return None
        outcome = await self.read_item(DONE, task_id, TaskOutcome)
        if outcome is None:
            return None
        return TaskAccepted(
            id=task_id, state=outcome.status, queued=len(self.queue), outcome=outcome
        )

    def _make(self, spec: TaskSpec) -> QueuedTask:
        self.seq += 1
        return QueuedTask(
            id=spec.id or f"{self.name}-{self.seq:09d}-{next(_ids)}",
            type=spec.type,
            payload=spec.payload,
            priority=PRIORITIES[spec.priority],
            seq=self.seq,
            timeout=spec.timeout,
            inputs=spec.inputs,
            reply_to=spec.reply_to,
            enqueued_at=time.time(),
        )

    def _enqueue(self, spec: TaskSpec) -> QueuedTask:
        task = self._make(spec)
        queue = self.queue
        if isinstance(queue, TaskQueue):
            queue.add_new(task.id, task)
        else:
            queue[task.id] = task
        self._run_order.push((order_of(task), task.id))
        self._kick()
        return task

    async def _handle_internal(self, message: Any) -> bool:
        if isinstance(message, ProcessNext):
            self._kicked = False
            await self._process_next()
        elif isinstance(message, TaskDone):
            await self._task_done(message)
        elif isinstance(message, QueueOffer):
            await take_offer(self, message)
        elif isinstance(message, StreamQueue):
            await self._stream.step(self)
        else:
            return False
        self._kick()
        return True

    async def _after_dispatch(self, name: str, error: BaseException | None) -> None:
        await super()._after_dispatch(name, error)
        if error is None or isinstance(error, ExpectedError):  # its changes were saved
            self._send_notices()
        self._publish_load()
        self._kick()

    def _decode(self, data: Any) -> Any:
        if self._outcomes is not None and DONE in data.collections:  # at start: index them
            for old in self._outcomes.load(data.collections[DONE], time.time()):
                self.unstage_item(DONE, old)
        return super()._decode(data)

    async def _load_state(self) -> Any:
        self._stream = QueueStream()
        return await self._stream.load(self)

    async def _prepare_state(self) -> None:
        await super()._prepare_state()
        await self._stream.attach(self)
        self._run_order = RunOrder((order_of(t), t.id) for t in self.queue.values())
        if self.current_task is not None:
            running = self.queue.get(self.current_task)
            if running is not None:
                if running.attempts < self.current_attempt:
                    self.queue[running.id] = msgspec.structs.replace(
                        running, attempts=self.current_attempt
                    )
                self.recovered_in_flight += 1
                _events.emit(
                    _event_names.AGENT_TASK_RECOVERED,
                    {"count": 1},
                    {**self._meta(), "task_id": self.current_task},
                )
            self.current_task, self.current_attempt = None, 0
        if self.status is TaskAgentStatus.PROCESSING:
            self.status = TaskAgentStatus.IDLE
        self._kick()
        self._stream.begin(self)  # the rest of a large queue, after the first task

    def _register(self) -> None:
        super()._register()
        if takes_offers(self, TaskAgent):
            self.set_health("ok", **{TAKES_OFFERS: True})
        self._publish_load()
