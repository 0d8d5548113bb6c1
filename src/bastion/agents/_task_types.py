"""The data a TaskAgent accepts, stores and reports."""

from __future__ import annotations

import enum
import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from bastion.agents._state import ItemMap

__all__ = [
    "ORDER_SHIFT",
    "PRIORITIES",
    "QueuedTask",
    "Task",
    "TaskAccepted",
    "TaskAgentStatistics",
    "TaskAgentStatus",
    "TaskFinished",
    "TaskMetrics",
    "TaskOutcome",
    "TaskQueue",
    "TaskSpec",
    "TaskStatus",
    "TaskValidation",
    "order_of",
]

PRIORITIES: dict[str, int] = {"high": 0, "normal": 1, "low": 2}
#: A queued task's stored order is ``priority << ORDER_SHIFT | seq``.
ORDER_SHIFT = 48


class TaskSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A task to queue or process: its ``type`` selects the registered handler.

    ``id`` makes queueing idempotent (a repeat of a queued or finished id is not
    queued again); ``reply_to`` names an actor that gets a :class:`TaskFinished` cast.
    """

    type: str
    payload: Any = None
    id: str | None = None
    priority: Literal["high", "normal", "low"] = "normal"
    timeout: float | None = None
    inputs: dict[str, Any] = {}
    reply_to: str | None = None


class QueuedTask(msgspec.Struct, kw_only=True):
    """A task in the queue, as stored (one row per task)."""

    id: str
    type: str
    payload: Any = None
    priority: int = 1
    seq: int = 0
    attempts: int = 0
    timeout: float | None = None
    inputs: dict[str, Any] = {}
    reply_to: str | None = None
    enqueued_at: float = 0.0


def order_of(task: QueuedTask) -> int:
    """Where ``task`` runs and sorts in the store: priority first, then queueing order
    (one int: a TaskAgent's run heap of ``(order, id)`` compares one int per step)."""
    return (task.priority << ORDER_SHIFT) | task.seq


class TaskQueue(ItemMap[QueuedTask]):
    """A TaskAgent's queue: an :class:`ItemMap` that keeps a count per priority.

    Every change goes through ``__setitem__``, ``__delitem__``, ``load`` or ``clear``
    (restore and roll-back included), so the counts stay right without a scan and
    ``status`` costs the same with 10 or 100,000 tasks queued. Items are stored with
    their place in the queue (:meth:`order_of`), so a large queue is restored highest
    priority first, page by page; ``len`` and :meth:`by_priority` count the tasks still
    in the store (:meth:`set_unloaded`) until their page is read (:meth:`add_restored`).

    The order of arrival, for :meth:`oldest`, is a deque of ``(seq, id)`` for tasks
    queued here (they arrive in ``seq`` order) and a heap for tasks read back page by
    page (they arrive by priority); both with lazy deletion: a removed task's entry is
    dropped when it reaches the front, so :meth:`oldest` costs O(1) amortized.

    A task queued under a new id (:meth:`add_new`) that leaves the queue before the next
    save was never stored: neither its row nor its deletion is written (a step offered
    by a coordinator and run at once costs its outcome's row only).
    """

    __slots__ = ("_arrivals", "_counts", "_fresh", "_restored", "_unloaded")

    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[int, int] = {}
        self._unloaded: dict[int, int] = {}
        self._arrivals: deque[tuple[int, str]] = deque()
        self._restored: list[tuple[int, str]] = []
        self._fresh: set[str] = set()  # queued since the last save under a new id

    def __len__(self) -> int:
        return super().__len__() + (sum(self._unloaded.values()) if self._unloaded else 0)

    @staticmethod
    def order_of(task: QueuedTask) -> int:
        """Where ``task`` sorts in the store: priority first, then queueing order."""
        return order_of(task)

    def __setitem__(self, key: str, value: QueuedTask) -> None:
        old = self.get(key)
        super().__setitem__(key, value)
        if old is not None:
            self._counts[old.priority] -= 1
        if old is None or old.seq != value.seq:
            self._arrivals.append((value.seq, key))
            if len(self._arrivals) > 2 * self.loaded + 64:  # removed tasks behind the front
                self._arrivals = deque(e for e in self._arrivals if self._live(e) is not None)
        self._counts[value.priority] = self._counts.get(value.priority, 0) + 1

    def add_new(self, key: str, value: QueuedTask) -> None:
        """Queue a task whose id was never stored (no row to delete if it leaves
        before the next save)."""
        stored = key in self._deleted  # deleted since the last save: its row is there
        self[key] = value
        if not stored:
            self._fresh.add(key)

    def __delitem__(self, key: str) -> None:
        old = self._data.pop(key)  # ItemMap.__delitem__, inlined: one per finished task
        self._dirty.discard(key)
        if key in self._fresh:
            self._fresh.discard(key)  # never stored: nothing to delete
        else:
            self._deleted.add(key)
        self._counts[old.priority] -= 1

    def drain_changes(self) -> tuple[list[tuple[str, QueuedTask]], list[str]]:
        """Changed tasks and deleted ids since the last save; every task is stored now."""
        self._fresh.clear()
        return super().drain_changes()

    def load(self, items: dict[str, QueuedTask]) -> None:
        """Replace the contents (restore, roll-back) and count them once."""
        super().load(items)
        self._counts = {}
        for task in items.values():
            self._counts[task.priority] = self._counts.get(task.priority, 0) + 1
        self._arrivals = deque(sorted((task.seq, key) for key, task in items.items()))
        self._restored = []
        self._fresh = set()

    def clear(self) -> None:
        """Remove every item."""
        super().clear()
        self._counts = {}
        self._arrivals = deque()
        self._restored = []
        self._fresh = set()

    def by_priority(self) -> dict[str, int]:
        """Queued tasks per priority name (``high``, ``normal``, ``low``)."""
        counts, unloaded = self._counts, self._unloaded
        return {
            name: counts.get(level, 0) + unloaded.get(level, 0)
            for name, level in PRIORITIES.items()
        }

    @property
    def loaded(self) -> int:
        """Tasks held in memory (``len`` also counts those still in the store)."""
        return super().__len__()

    def set_unloaded(self, per_priority: dict[int, int]) -> None:
        """Count the tasks still in the store, per priority (restore)."""
        self._unloaded = {p: n for p, n in per_priority.items() if n > 0}

    def add_restored(self, tasks: dict[str, QueuedTask]) -> None:
        """Add tasks read from the store after the restore, as unchanged (nothing to save)."""
        data, counts, unloaded = self._data, self._counts, self._unloaded
        restored = self._restored
        for key, task in tasks.items():
            data[key] = task
            heapq.heappush(restored, (task.seq, key))
            level = task.priority
            counts[level] = counts.get(level, 0) + 1
            left = unloaded.get(level, 0) - 1
            if left > 0:
                unloaded[level] = left
            else:
                unloaded.pop(level, None)

    def unsaved_delete(self, key: str) -> bool:
        """Whether ``key`` was deleted here and the deletion is not written yet."""
        return key in self._deleted

    def _live(self, entry: tuple[int, str]) -> QueuedTask | None:
        task = self.get(entry[1])
        return task if task is not None and task.seq == entry[0] else None

    def _oldest_queued_here(self, exclude: str | None) -> QueuedTask | None:
        arrivals = self._arrivals
        while arrivals and self._live(arrivals[0]) is None:
            arrivals.popleft()
        if not arrivals:
            return None
        first = self._live(arrivals[0])
        if first is not None and first.id != exclude:
            return first
        while len(arrivals) > 1:  # the front runs: the next live one waits longest
            second = self._live(arrivals[1])
            if second is not None:
                return second
            del arrivals[1]  # O(1) next to the front
        return None

    def _oldest_restored(self, exclude: str | None) -> QueuedTask | None:
        heap, held, found = self._restored, None, None
        while heap:
            task = self._live(heap[0])
            if task is None:
                heapq.heappop(heap)
            elif task.id == exclude:
                held = heapq.heappop(heap)  # put back below
            else:
                found = task
                break
        if held is not None:
            heapq.heappush(heap, held)
        return found

    def oldest(self, exclude: str | None = None) -> QueuedTask | None:
        """The task queued longest (lowest ``seq``) other than ``exclude`` (the running
        one), whatever its priority; None if there is none. While a restore still has
        pages in the store, among the tasks read so far."""
        here = self._oldest_queued_here(exclude)
        restored = self._oldest_restored(exclude)
        if here is None or (restored is not None and restored.seq < here.seq):
            return restored
        return here


class TaskAgentStatus(enum.StrEnum):
    """What a TaskAgent is doing (stored with its state, as the value)."""

    IDLE = "idle"  #: nothing to run, or waiting for the next task to start
    PROCESSING = "processing"  #: a task is running
    PAUSED = "paused"  #: takes no task from the queue until ``resume``


class TaskStatus(enum.StrEnum):
    """How a task ended."""

    COMPLETED = "completed"
    FAILED = "failed"


class TaskOutcome(msgspec.Struct, kw_only=True, omit_defaults=True):
    """How a task ended; stored once per task id in the agent's ``done`` collection.

    Fields at their default are left out of the stored form (they decode to the same
    value): the common outcome then holds no JSON ``null``, which spares the codec's
    check for NaN and infinity on every task.

    ``retryable`` (failed tasks): whether running the task again may succeed, as
    :func:`bastion.resilience.is_retryable` decides (timeouts and retryable
    infrastructure errors are; expected errors and unclassified exceptions are not).
    Outcomes stored before the field existed read as retryable.
    """

    id: str
    type: str
    status: TaskStatus
    result: Any = None
    error: str | None = None
    attempts: int = 1
    duration: float = 0.0
    finished_at: float = 0.0
    agent: str | None = None
    retryable: bool = True


class TaskAccepted(msgspec.Struct, kw_only=True):
    """The reply to ``queue``: where the task stands now."""

    id: str
    state: Literal["queued", "in_progress", "completed", "failed"]
    queued: int = 0
    outcome: TaskOutcome | None = None


class TaskMetrics(msgspec.Struct, kw_only=True):
    """Durations of finished tasks (persisted)."""

    total_duration: float = 0.0
    timed: int = 0
    fastest: float | None = None
    slowest: float | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """What a task handler receives."""

    id: str
    type: str
    payload: Any
    attempt: int
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskFinished:
    """Cast to a task's ``reply_to`` actor when the task finished."""

    outcome: TaskOutcome


@dataclass(frozen=True, slots=True)
class TaskValidation:
    """The answer of the ``validate`` action."""

    valid: bool
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskAgentStatistics:
    """A TaskAgent's queue, counters and durations."""

    name: str | None
    status: TaskAgentStatus
    pause_reason: str | None
    queued: int
    queued_by_priority: dict[str, int]
    current_task: str | None
    processed: int
    failed: int
    consecutive_errors: int
    recovered_in_flight: int
    average_duration: float | None
    fastest: float | None
    slowest: float | None
    max_queue_size: int
    notify_failures: int
    #: When the task queued longest (and not running) was queued (wall clock, seconds
    #: since the epoch), or None when nothing waits.
    oldest_queued_at: float | None = None
