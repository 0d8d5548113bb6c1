"""Measurement hooks for the layers above the kernel (resilience, persistence, agents).

Each hook is one call at an outcome point. It records into the metrics of the runtime
running the code (``current_runtime().metrics``) and does nothing outside a runtime or
when the runtime's metrics are off. Metric names and shapes come from :data:`CATALOG`,
so the docs table and the code cannot drift apart.

The labelled child of each (metric, label set) is looked up once per metrics registry
and kept (:func:`_child`): a hook on a hot path (one TaskAgent task) costs a dict lookup,
not a definition check and a registration per call. Children are never removed from a
registry, so a kept one stays the one the registry reports.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from bastion._core._catalog import CATALOG
from bastion._core._metrics import Counter, Gauge, Histogram, MetricKind, MetricsRegistry
from bastion._core._runtime import _current_runtime

__all__ = [
    "CATALOG",
    "count",
    "group_committed",
    "observe",
    "registry",
    "set_gauge",
    "TaskMeter",
    "task_finished",
    "task_meter",
    "timed_checkpoint",
    "write_meters",
    "write_submitted",
]


T = TypeVar("T")


def registry() -> MetricsRegistry | None:
    """The metrics of the runtime running this code, or None (no runtime, metrics off)."""
    runtime = _current_runtime.get()
    if runtime is None or not runtime.metrics.enabled:
        return None
    return runtime.metrics


#: At most this many (metric, label set) children are kept; past it the cache starts over.
_MAX_KEPT = 4096


class _Children:
    """The children looked up in the metrics registry seen last (one runtime at a time)."""

    owner: ClassVar[weakref.ref[MetricsRegistry] | None] = None
    kept: ClassVar[dict[tuple[str, tuple[object, ...]], Any]] = {}


def _child(target: MetricsRegistry, name: str, labels: tuple[object, ...]) -> Any:
    """The child of metric ``name`` for ``labels`` in ``target``, kept after the first call.

    A label set folded into ``other`` (the metric is over its budget) is not kept, so
    every such call is still counted as a fold.
    """
    owner = _Children.owner
    if owner is None or owner() is not target:
        _Children.owner, _Children.kept = weakref.ref(target), {}
    kept = _Children.kept
    key = (name, labels)
    try:
        child = kept.get(key)
    except TypeError:  # an unhashable label value: converted with str, looked up each time
        return _metric(target, name).labels(*labels)
    if child is None:
        metric = _metric(target, name)
        child = metric.labels(*labels)
        if metric._children.get(tuple(str(v) for v in labels)) is child:
            if len(kept) >= _MAX_KEPT:
                kept.clear()
            kept[key] = child
    return child


def _metric(target: MetricsRegistry, name: str) -> Counter | Gauge | Histogram:
    definition = CATALOG[name]
    description, unit, label_names = definition.description, definition.unit, definition.labels
    metric: Counter | Gauge | Histogram
    if definition.kind is MetricKind.COUNTER:
        metric = target.counter(name, description, unit=unit, labels=label_names)
    elif definition.kind is MetricKind.GAUGE:
        metric = target.gauge(name, description, unit=unit, labels=label_names)
    else:
        metric = target.histogram(name, description, unit=unit, labels=label_names)
    return metric


def count(name: str, *labels: object, amount: float = 1.0) -> None:
    """Add ``amount`` to counter ``name`` (a :data:`CATALOG` entry) for ``labels``."""
    target = registry()
    if target is not None:
        _child(target, name, labels).inc(amount)


def set_gauge(name: str, value: float, *labels: object) -> None:
    """Set gauge ``name`` for ``labels``."""
    target = registry()
    if target is not None:
        _child(target, name, labels).set(value)


def observe(name: str, value: float, *labels: object) -> None:
    """Record ``value`` in histogram ``name`` for ``labels``."""
    target = registry()
    if target is not None:
        _child(target, name, labels).record(value)


class TaskMeter:
    """A TaskAgent class's task metrics for one batch of tasks: the histogram child is
    looked up once, the outcomes are counted here and added at :meth:`close`."""

    __slots__ = ("_agent_class", "_counts", "_seconds", "_target")

    def __init__(self, target: MetricsRegistry, agent_class: str) -> None:
        self._target, self._agent_class = target, agent_class
        self._seconds = _child(target, "bastion_task_agent_task_seconds", (agent_class,))
        self._counts: dict[str, int] = {}

    def finished(self, outcome: str, duration: float) -> None:
        """Count one task's outcome and record how long it ran."""
        self._counts[outcome] = self._counts.get(outcome, 0) + 1
        self._seconds.record(duration)

    def close(self) -> None:
        """Add the counted outcomes to the outcome counter (end of the batch)."""
        counts, self._counts = self._counts, {}
        for outcome, n in counts.items():
            _child(self._target, "bastion_task_agent_tasks", (self._agent_class, outcome)).inc(n)


def task_meter(agent_class: str) -> TaskMeter | None:
    """The task metrics of ``agent_class`` in this runtime (None: metrics are off)."""
    target = registry()
    return None if target is None else TaskMeter(target, agent_class)


def task_finished(agent_class: str, outcome: str, duration: float) -> None:
    """Count a TaskAgent task's outcome and record how long it ran."""
    target = registry()
    if target is not None:
        _child(target, "bastion_task_agent_tasks", (agent_class, outcome)).inc()
        _child(target, "bastion_task_agent_task_seconds", (agent_class,)).record(duration)


def write_submitted(future: asyncio.Future[Any], pending_ops: int, store: str) -> None:
    """A batch was queued: set the writer lag; time its acknowledgement when it resolves."""
    target = registry()
    if target is None:
        return
    _child(target, "bastion_persistence_writer_lag", (store,)).set(pending_ops)
    latency = _child(target, "bastion_persistence_write_seconds", (store,))
    submitted = time.perf_counter()
    future.add_done_callback(lambda _: latency.record(time.perf_counter() - submitted))


def write_meters(store: str) -> tuple[Any, Any] | None:
    """The writer-lag gauge and the write-latency histogram of ``store`` (None: metrics
    off), for a store that times its writes itself instead of a callback per write."""
    target = registry()
    if target is None:
        return None
    return (
        _child(target, "bastion_persistence_writer_lag", (store,)),
        _child(target, "bastion_persistence_write_seconds", (store,)),
    )


def group_committed(size: int, store: str) -> None:
    """A group commit took ``size`` batches: record it; the queue is empty again."""
    target = registry()
    if target is not None:
        _child(target, "bastion_persistence_group_size", (store,)).record(size)
        _child(target, "bastion_persistence_writer_lag", (store,)).set(0)


def timed_checkpoint(checkpoint: Callable[[], T]) -> Callable[[], T]:
    """Wrap a checkpoint that runs in a helper thread so its duration is recorded.

    The histogram is looked up here, on the loop; the thread hands the duration back.
    """
    target = registry()
    if target is None:
        return checkpoint
    histogram = _child(target, "bastion_persistence_checkpoint_seconds", ("sqlite",))
    loop = asyncio.get_running_loop()

    def timed() -> T:
        started = time.perf_counter()
        try:
            return checkpoint()
        finally:  # histograms belong to the loop: record there
            loop.call_soon_threadsafe(histogram.record, time.perf_counter() - started)

    return timed
