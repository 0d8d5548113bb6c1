"""The runtime measuring itself: cohort attribution and per-actor-class meters.

Hot paths touch only plain attributes of objects shared per actor class (and per
cohort): an actor holds one reference to its class's :class:`ActorClassMeter`, never
a meter of its own. The registry reads those attributes at collection
(:meth:`KernelMeters.register`), so an increment costs an attribute add.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from bastion._core._errors import ActorCrashed, ActorNotAlive, CallTimeout, ExpectedError
from bastion._core._histogram import LogLinearHistogram
from bastion._core._metrics import OTHER, MetricKind, MetricsRegistry, Sample

if TYPE_CHECKING:
    from bastion._core._cell import Cell

__all__ = [
    "OUTCOMES",
    "ActorClassMeter",
    "KernelMeters",
    "cohort",
    "cohort_get",
    "current_cohort",
    "reason_label",
    "set_cohort",
]

#: The variant of the unit of work running now ("" = no cohort); set by flag evaluation.
_cohort: ContextVar[str] = ContextVar("bastion_cohort", default="")
_cohort_get = _cohort.get
#: The cohort lookup the kernel's hot paths use (``""``: none).
cohort_get = _cohort_get

OUTCOMES = ("ok", "expected_error", "crash", "timeout", "not_alive", "cancelled")
MAX_COHORTS = 16
MAX_CLASSES = 200


def current_cohort() -> str:
    """The cohort of the running work, ``""`` when none is set."""
    return _cohort_get()


def set_cohort(name: str) -> Callable[[], None]:
    """Set the cohort for the current context; returns a function that restores it."""
    token = _cohort.set(_check_cohort(name))
    return lambda: _cohort.reset(token)


@contextmanager
def cohort(name: str) -> Iterator[str]:
    """Attribute the measurements taken inside the block (and the calls it makes) to
    cohort ``name`` (e.g. a flag variant: ``"canary"``, ``"baseline"``)."""
    token = _cohort.set(_check_cohort(name))
    try:
        yield name
    finally:
        _cohort.reset(token)


def _check_cohort(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ValueError(f"a cohort is a non-empty str of at most 64 characters, got {name!r}")
    return name


class ActorClassMeter:
    """Counters of one actor class (and one cohort). Kernel hot paths add to these."""

    __slots__ = (
        "actor_class",
        "casts",
        "cohort",
        "cohorts",
        "durations",
        "high_water",
        "outcomes",
    )

    def __init__(self, actor_class: str, cohort: str = "") -> None:
        self.actor_class = actor_class
        self.cohort = cohort
        self.casts = 0  # casts handled by actors of the class that have stopped
        self.high_water = 0
        self.outcomes = [0] * len(OUTCOMES)
        self.durations = LogLinearHistogram()
        self.cohorts: dict[str, ActorClassMeter] | None = None

    def current(self) -> ActorClassMeter:
        """This meter, or its sibling for the cohort set in the running context."""
        name = _cohort_get()
        if not name:
            return self
        cohorts = self.cohorts
        if cohorts is None:
            cohorts = self.cohorts = {}
        meter = cohorts.get(name)
        if meter is None:
            if len(cohorts) >= MAX_COHORTS:
                name = OTHER
                meter = cohorts.get(name)
            if meter is None:
                meter = cohorts[name] = ActorClassMeter(self.actor_class, name)
        return meter

    def call_failed(self, duration: float, error: BaseException) -> None:
        """Count a call that ended with ``error`` and record its duration."""
        self.outcomes[_outcome(error)] += 1
        self.durations.record(duration)

    def family(self) -> Iterator[ActorClassMeter]:
        """This meter and its cohort siblings."""
        yield self
        if self.cohorts:
            yield from self.cohorts.values()


def reason_label(reason: object) -> str:
    """A bounded label for an exit reason: the exception class name, or the reason str."""
    if isinstance(reason, BaseException):
        return type(reason).__name__
    return str(reason)[:40]


def _outcome(error: BaseException) -> int:
    if isinstance(error, ExpectedError):
        return 1
    if isinstance(error, ActorCrashed):
        return 2
    if isinstance(error, CallTimeout):
        return 3
    if isinstance(error, ActorNotAlive):
        return 4
    if isinstance(error, asyncio.CancelledError):
        return 5
    return 2


class KernelMeters:
    """Per-runtime kernel instrumentation: meters per actor class, read at collection."""

    def __init__(self, registry: MetricsRegistry, cells: Callable[[], Any]) -> None:
        self.registry = registry
        self._cells = cells
        self._by_class: dict[type, ActorClassMeter] = {}
        self._overflow: ActorClassMeter | None = None
        self.register()
        self._restarts = registry.counter(
            "bastion_restarts",
            "Children restarted, by supervisor (name, else class), child id and exit reason.",
            labels=("supervisor", "child", "reason"),
        )

    def restart(self, supervisor: Cell, child_id: str, reason: object) -> None:
        """Count one restart of ``child_id`` by ``supervisor`` after ``reason``."""
        owner = supervisor.name or type(supervisor.actor).__qualname__
        self._restarts.labels(owner, child_id, reason_label(reason)).inc()

    def meter_for(self, actor_class: type) -> ActorClassMeter:
        """The shared meter of ``actor_class`` (created on its first spawn)."""
        meter = self._by_class.get(actor_class)
        if meter is None:
            if len(self._by_class) >= MAX_CLASSES:
                if self._overflow is None:
                    self._overflow = ActorClassMeter(OTHER)
                return self._overflow
            meter = self._by_class[actor_class] = ActorClassMeter(actor_class.__qualname__)
        return meter

    def _meters(self) -> Iterator[ActorClassMeter]:
        for meter in self._by_class.values():
            yield from meter.family()
        if self._overflow is not None:
            yield from self._overflow.family()

    def register(self) -> None:
        """Declare the kernel's call, cast and mailbox metrics (read at collection)."""
        callback = self.registry.callback
        callback(
            "bastion_calls",
            MetricKind.COUNTER,
            "Calls finished, by actor class, outcome and cohort.",
            self._read_calls,
            labels=("actor_class", "outcome", "cohort"),
        )
        callback(
            "bastion_call_duration_seconds",
            MetricKind.HISTOGRAM,
            "Call round trip as the caller saw it (every outcome), by actor class and cohort.",
            self._read_durations,
            unit="s",
            labels=("actor_class", "cohort"),
        )
        callback(
            "bastion_casts",
            MetricKind.COUNTER,
            "Casts handled, by actor class (counted by the receiver: no cohort).",
            self._read_casts,
            labels=("actor_class",),
        )
        callback(
            "bastion_mailbox_depth",
            MetricKind.GAUGE,
            "Messages waiting in the mailboxes of live actors, summed per actor class.",
            self._read_depth,
            labels=("actor_class",),
        )
        callback(
            "bastion_mailbox_depth_max",
            MetricKind.GAUGE,
            "Deepest mailbox of a live actor of the class now.",
            self._read_depth_max,
            labels=("actor_class",),
        )
        callback(
            "bastion_mailbox_high_water",
            MetricKind.GAUGE,
            "Deepest mailbox any actor of the class ever reached.",
            self._read_high_water,
            labels=("actor_class",),
        )
        callback(
            "bastion_mailbox_saturation_ratio",
            MetricKind.GAUGE,
            "Fullest mailbox of the class now, as a fraction of its capacity (0-1).",
            self._read_saturation,
            labels=("actor_class",),
        )

    def _read_calls(self) -> Iterator[Sample]:
        for meter in self._meters():
            outcomes = meter.outcomes
            # A call that succeeded only records its duration (the cheapest hot path).
            outcomes[0] = meter.durations.snapshot().count - sum(outcomes[1:])
            for index, outcome in enumerate(OUTCOMES):
                count = outcomes[index]
                if count or outcome == "ok":
                    yield Sample((meter.actor_class, outcome, meter.cohort), float(count))

    def _read_durations(self) -> Iterator[Sample]:
        for meter in self._meters():
            snap = meter.durations.snapshot()
            if snap.count or not meter.cohort:
                yield Sample((meter.actor_class, meter.cohort), float(snap.count), snap)

    def _read_casts(self) -> Iterator[Sample]:
        table = {m.actor_class: m.casts for m in self._meters() if not m.cohort}
        cell: Cell
        for cell in self._cells():
            if cell.meter is not None and cell.handled is not None:
                name = cell.meter.actor_class
                table[name] = table.get(name, 0) + cell.handled[1]
        for name, count in table.items():
            yield Sample((name,), float(count))

    def _depths(self) -> dict[str, tuple[int, int, float]]:
        table: dict[str, tuple[int, int, float]] = {
            m.actor_class: (0, 0, 0.0) for m in self._meters() if not m.cohort
        }
        cell: Cell
        for cell in self._cells():
            meter = cell.meter
            if meter is None:
                continue
            depth = len(cell.queue)
            total, deepest, ratio = table.get(meter.actor_class, (0, 0, 0.0))
            table[meter.actor_class] = (
                total + depth,
                max(deepest, depth),
                max(ratio, depth / cell.capacity),
            )
        return table

    def _read_depth(self) -> Iterator[Sample]:
        for name, (total, _deepest, _ratio) in self._depths().items():
            yield Sample((name,), float(total))

    def _read_depth_max(self) -> Iterator[Sample]:
        for name, (_total, deepest, _ratio) in self._depths().items():
            yield Sample((name,), float(deepest))

    def _read_saturation(self) -> Iterator[Sample]:
        for name, (_total, _deepest, ratio) in self._depths().items():
            yield Sample((name,), ratio)

    def _read_high_water(self) -> Iterator[Sample]:
        for meter in self._meters():
            if not meter.cohort:
                yield Sample((meter.actor_class,), float(meter.high_water))
