"""Measurement hooks for the layers above the kernel (resilience, persistence, agents).

Each hook is one call at an outcome point. It records into the metrics of the runtime
running the code (``current_runtime().metrics``) and does nothing outside a runtime or
when the runtime's metrics are off. Metric names and shapes come from :data:`CATALOG`,
so the docs table and the code cannot drift apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

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
    "task_finished",
    "timed_checkpoint",
    "write_submitted",
]


T = TypeVar("T")


def registry() -> MetricsRegistry | None:
    """The metrics of the runtime running this code, or None (no runtime, metrics off)."""
    runtime = _current_runtime.get()
    if runtime is None or not runtime.metrics.enabled:
        return None
    return runtime.metrics


def _child(target: MetricsRegistry, name: str, labels: tuple[object, ...]) -> Any:
    definition = CATALOG[name]
    description, unit, label_names = definition.description, definition.unit, definition.labels
    metric: Counter | Gauge | Histogram
    if definition.kind is MetricKind.COUNTER:
        metric = target.counter(name, description, unit=unit, labels=label_names)
    elif definition.kind is MetricKind.GAUGE:
        metric = target.gauge(name, description, unit=unit, labels=label_names)
    else:
        metric = target.histogram(name, description, unit=unit, labels=label_names)
    return metric.labels(*labels)


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


def task_finished(agent_class: str, outcome: str, duration: float) -> None:
    """Count a TaskAgent task's outcome and record how long it ran."""
    count("bastion_task_agent_tasks", agent_class, outcome)
    observe("bastion_task_agent_task_seconds", duration, agent_class)


def write_submitted(future: asyncio.Future[Any], pending_ops: int, store: str) -> None:
    """A batch was queued: set the writer lag; time its acknowledgement when it resolves."""
    target = registry()
    if target is None:
        return
    _child(target, "bastion_persistence_writer_lag", (store,)).set(pending_ops)
    latency = _child(target, "bastion_persistence_write_seconds", (store,))
    submitted = time.perf_counter()
    future.add_done_callback(lambda _: latency.record(time.perf_counter() - submitted))


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
