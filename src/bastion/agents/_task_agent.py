"""``TaskAgent``: a durable, bounded priority queue of tasks run by registered handlers.

``await rt.spawn(TaskAgent, name="w1", store=store, handlers={"fetch": fetch})``, then
``await act(ref, "queue", type="fetch", payload={"url": u}, priority="high")``.
At-least-once: a task leaves the stored queue in the same atomic write that records its
outcome (once per task id). The task running at a crash runs again after the restart;
after ``max_attempts`` it is recorded as failed instead.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

import msgspec

from bastion._core import _event_names, _events
from bastion._core._durations import positive_seconds
from bastion._core._errors import ActorNotAlive, BastionError, ExpectedError, MailboxFull
from bastion._core._ref import ActorRef
from bastion.agents._actions import action
from bastion.agents._errors import AgentPaused, InvalidTask, QueueFull
from bastion.agents._offers import TAKES_OFFERS, Offered, QueueOffer
from bastion.agents._persistent import PersistentAgent
from bastion.agents._queue_stream import QueueStream, StreamQueue
from bastion.agents._retention import OutcomeIndex, OutcomeRetention
from bastion.agents._state import ItemMap
from bastion.agents._task_support import (
    HandlerModes,
    HandlerResult,
    ProcessNext,
    TaskDone,
    await_handler,
    call_handler,
    count_priorities,
    outcome_of,
    run_handler,
    send_done,
    task_outcome,
    task_problems,
    task_view,
    with_duration,
)
from bastion.agents._task_types import (
    PRIORITIES,
    QueuedTask,
    Task,
    TaskAccepted,
    TaskAgentStatistics,
    TaskAgentStatus,
    TaskFinished,
    TaskMetrics,
    TaskOutcome,
    TaskQueue,
    TaskSpec,
    TaskStatus,
    TaskValidation,
)
from bastion.persistence import UnstorableValue, UnsupportedType
from bastion.telemetry import _hooks

__all__ = ["DONE", "TaskAgent", "TaskHandler"]

TaskHandler = Callable[[Task], Any | Awaitable[Any]]
"""A task handler: called with the :class:`Task`, returns the result (or awaitable)."""
DONE = "done"
_ids = itertools.count(1)
#: A batch of plain-function tasks handled in one message: at most this many tasks, and
#: it ends at the first task finishing past this many seconds (the loop's clock).
_BATCH_TASKS = 128
_BATCH_SECONDS = 0.02
_MAX_REPLY_REFS = 1024
_TASK_SPAN = tuple((*_event_names.AGENT_TASK, end) for end in ("start", "stop", "exception"))


class TaskAgent(PersistentAgent):
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
        self._heap: list[tuple[int, int, str]] = []
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
        """Queue several tasks atomically: all are queued, or none (QueueFull, InvalidTask)."""
        for spec in tasks:
            self._check(spec)
        if len(self.queue) + len(tasks) > self.max_queue_size:
            raise QueueFull(
                f"{self.name}: {len(tasks)} more tasks would exceed {self.max_queue_size}",
                context={"agent": self.name},
            )
        return [
            TaskAccepted(id=self._enqueue(s).id, state="queued", queued=len(self.queue))
            for s in tasks
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
        heapq.heappush(self._heap, (task.priority, task.seq, task.id))
        self._kick()
        return task

    def _kick(self) -> None:
        paused = self.status is TaskAgentStatus.PAUSED
        if self._kicked or paused or self.current_task or not self._heap:
            return
        try:
            self.ref.cast_nowait(ProcessNext())
        except MailboxFull:
            return  # messages are waiting: the next one handled kicks again
        self._kicked = True

    async def _handle_internal(self, message: Any) -> bool:
        if isinstance(message, ProcessNext):
            self._kicked = False
            await self._process_next()
        elif isinstance(message, TaskDone):
            await self._task_done(message)
        elif isinstance(message, QueueOffer):
            await self._take_offer(message)
        elif isinstance(message, StreamQueue):
            await self._stream.step(self)
        else:
            return False
        self._kick()
        return True

    async def _take_offer(self, message: QueueOffer) -> None:
        """A coordinator's step: queued as by ``queue``, without a reply waiting for its
        commit (``_offers``); only a refusal or a known outcome is answered."""
        try:
            new = message.new_on is not None and message.new_on is self.store
            accepted = await self._queue(message.spec, outcome_possible=not new)
        except BastionError as exc:
            answer = Offered(message.offer, error=exc)
        else:
            if accepted.outcome is None:
                if not self._kicked:  # else the run of the task saves it with its start
                    await self.persist(wait=False)
                self._publish_load()
                return
            answer = Offered(message.offer, accepted=accepted)
        try:
            message.coordinator.cast_nowait(answer)
        except MailboxFull:
            self.runtime.tasks.start(
                send_done, message.coordinator, answer, name=f"offered:{message.spec.id}"
            )
        except ActorNotAlive:
            return  # its next incarnation offers the step again

    async def _after_dispatch(self, name: str, error: BaseException | None) -> None:
        await super()._after_dispatch(name, error)
        if error is None or isinstance(error, ExpectedError):  # its changes were saved
            self._send_notices()
        self._publish_load()
        self._kick()

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
        plain: dict[str, TaskHandler] = {}  # task type -> its plain-function handler
        for _ in range(_BATCH_TASKS):
            if self._stream.cursor is not None and self._may_start():
                await self._stream.fill(self)  # no unread task may come before the next one
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
            self._run_inline(task, handler, spans)
            if self._running is not None or cell.queue or cell.stop_reason is not None:
                return  # the messages that arrived are answered before the next task
            if loop.time() >= deadline:
                return

    def _next_task(self) -> QueuedTask | None:
        """The next task to run, its attempt counted (tasks out of attempts are recorded
        as failed on the way); None if none may start now."""
        while self._may_start():
            task = self._pop()
            if task is None:
                return None
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

    def _run_inline(self, task: QueuedTask, handler: TaskHandler, spans: bool) -> None:
        """A plain function cannot be interrupted, nor let the agent answer while it runs,
        in a task of its own either: it runs here, with no task and no message back."""
        limit = task.timeout or self.task_timeout
        if spans:
            with _events.span(_event_names.AGENT_TASK, self._task_meta(task)):
                called = call_handler(handler, task_view(task), limit, self.clock)
        else:
            called = call_handler(handler, task_view(task), limit, self.clock)
        if isinstance(called, HandlerResult):
            self._record(task, outcome_of(task, called, self.name))
            return
        self._handler_modes.mark_async(task.type, handler)  # it returned an awaitable
        start = self.clock.now()  # the limit applies to what it returned
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

    async def _finish_stop(self, reason: Any) -> None:
        running, self._running = self._running, None
        if running is not None:
            running.cancel()  # the task stays queued and runs again after a restart
        await super()._finish_stop(reason)

    def _pop(self) -> QueuedTask | None:
        while self._heap:
            _, _, task_id = heapq.heappop(self._heap)
            task = self.queue.get(task_id)
            if task is not None:
                return task
        return None

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
        try:
            self.stage_item(DONE, task.id, outcome, TaskOutcome)
        except (UnsupportedType, UnstorableValue) as exc:  # the task fails, not the agent
            outcome = msgspec.structs.replace(
                outcome,
                status=TaskStatus.FAILED,
                result=None,
                error=f"result not storable: {exc}",
                retryable=False,
            )
            self.stage_item(DONE, task.id, outcome, TaskOutcome)
        if self._outcomes is not None:
            self._retain(task.id, outcome.finished_at)
        if task.id in self.queue:
            del self.queue[task.id]
        if self.current_task == task.id:
            self.current_task, self.current_attempt = None, 0
            if self.status is TaskAgentStatus.PROCESSING:
                self.status = TaskAgentStatus.IDLE
        self._count(outcome)
        if self._meter is not None:
            self._meter.finished(outcome.status, outcome.duration)
        else:
            _hooks.task_finished(self._agent_class, outcome.status, outcome.duration)
        self._finished.append((task.reply_to, outcome))  # announced once saved

    def _retain(self, task_id: str, finished_at: float) -> None:
        """Retention: the outcomes it drops go out in the batch recording this one."""
        if self._outcomes is not None:
            for old in self._outcomes.add(task_id, finished_at, time.time()):
                self.unstage_item(DONE, old)

    def _decode(self, data: Any) -> Any:
        if self._outcomes is not None and DONE in data.collections:  # at start: index them
            for old in self._outcomes.load(data.collections[DONE], time.time()):
                self.unstage_item(DONE, old)
        return super()._decode(data)

    def _count(self, outcome: TaskOutcome) -> None:
        if outcome.status is TaskStatus.COMPLETED:
            self.processed_count += 1
            self.consecutive_errors = 0
        else:
            self.failed_count += 1
            self.consecutive_errors += 1
            too_many = self.consecutive_errors >= self.pause_after_errors
            if too_many and self.status is not TaskAgentStatus.PAUSED:
                self._pause("consecutive_errors")
        self.metrics = with_duration(self.metrics, outcome.duration)

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
                self._reply_ref(reply_to).cast_nowait(TaskFinished(outcome))
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

    async def _roll_back(self) -> None:
        """Outcomes that were not saved are not announced; queue rows put back are
        runnable again."""
        self._finished = []
        await super()._roll_back()
        self._heap = sorted((t.priority, t.seq, t.id) for t in self.queue.values())

    def _publish_load(self) -> None:
        _hooks.set_gauge("bastion_task_agent_queue_length", len(self.queue), str(self.name))
        self.set_health(
            "paused" if self.status is TaskAgentStatus.PAUSED else "ok",
            queued=len(self.queue),
            load=len(self.queue),
            processed=self.processed_count,
            failed=self.failed_count,
        )

    async def _load_state(self) -> Any:
        self._stream = QueueStream()
        return await self._stream.load(self)

    async def _prepare_state(self) -> None:
        await super()._prepare_state()
        await self._stream.attach(self)
        self._heap = sorted((t.priority, t.seq, t.id) for t in self.queue.values())
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
        if self._takes_offers():
            self.set_health("ok", **{TAKES_OFFERS: True})
        self._publish_load()

    def _takes_offers(self) -> bool:
        """Whether a coordinator may offer steps as messages: only when ``queue`` and the
        action hooks are the built-in ones (a subclass's own would be bypassed)."""
        cls = type(self)
        spec = self._actions.get("queue")
        return (
            spec is not None
            and spec.method is TaskAgent.queue_task
            and all(
                getattr(cls, hook) is getattr(TaskAgent, hook)
                for hook in ("before_action", "after_action", "on_action_error")
            )
        )
