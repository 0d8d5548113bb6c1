"""Bastion's metrics through the OpenTelemetry Meter API (observable instruments).

Nothing is recorded twice: each OTel instrument is *observable* and reads the runtime's
registry (``rt.metrics.collect()``) when the OTel reader collects. Counters become
observable counters, gauges observable gauges; a histogram becomes an
observable counter ``<name>_count``, an observable counter ``<name>_sum`` and an
observable gauge ``<name>_quantile`` with a ``quantile`` attribute (0.5, 0.9, 0.99).
A reader collecting from another thread (``PeriodicExportingMetricReader``) gets the
snapshot taken on the runtime's loop, so it never races the actors.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from bastion._core._metrics import MetricFamily, MetricKind
from bastion._core._runtime import Runtime

__all__ = ["QUANTILES", "bridge_metrics"]

QUANTILES = (0.5, 0.9, 0.99)
_SNAPSHOT_TIMEOUT = 5.0


def _snapshot(runtime: Runtime) -> dict[str, MetricFamily]:
    """The registry read on the runtime's loop thread (waited for from other threads)."""
    loop = runtime.loop
    if loop.is_closed():
        return {}
    thread_id = getattr(loop, "_thread_id", None)
    if thread_id is None or thread_id == threading.get_ident():
        return {f.name: f for f in runtime.metrics.collect()}
    result: concurrent.futures.Future[dict[str, MetricFamily]] = concurrent.futures.Future()

    def read() -> None:
        if result.set_running_or_notify_cancel():
            result.set_result({f.name: f for f in runtime.metrics.collect()})

    loop.call_soon_threadsafe(read)
    try:
        return result.result(timeout=_SNAPSHOT_TIMEOUT)
    except concurrent.futures.TimeoutError:
        result.cancel()
        return {}  # the loop is stuck: report nothing rather than block the reader


class _Collection:
    """One registry snapshot per OTel collection, shared by every instrument's callback."""

    def __init__(self, runtime: Runtime, keys: frozenset[str]) -> None:
        self._runtime = runtime
        self._keys = keys
        self._families: dict[str, MetricFamily] = {}
        self._pending: set[str] = set()

    def family(self, key: str) -> MetricFamily | None:
        """The family behind ``key`` (``name#part``) in this collection cycle's snapshot."""
        if not self._pending or key not in self._pending:  # a new cycle: read once
            self._families = _snapshot(self._runtime)
            self._pending = set(self._keys)
        self._pending.discard(key)
        return self._families.get(key.partition("#")[0])


def _attributes(family: MetricFamily, values: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(family.label_names, values, strict=True))


def _observe(
    collection: _Collection, name: str, part: str
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        family = collection.family(f"{name}#{part}")
        if family is None:
            return []
        out: list[Observation] = []
        for sample in family.samples:
            attributes = _attributes(family, sample.label_values)
            histogram = sample.histogram
            if part == "value":
                out.append(Observation(sample.value, attributes))
            elif histogram is None:
                continue
            elif part == "count":
                out.append(Observation(histogram.count, attributes))
            elif part == "sum":
                out.append(Observation(histogram.sum, attributes))
            elif histogram.count:
                for q in QUANTILES:
                    out.append(Observation(histogram.quantile(q), {**attributes, "quantile": q}))
        return out

    return callback


def bridge_metrics(runtime: Runtime, meter: Meter) -> list[Any]:
    """Create one observable instrument per Bastion metric (per part, for histograms)."""
    families = runtime.metrics.collect()
    plan: list[tuple[MetricFamily, str]] = []
    for family in families:
        if family.kind is MetricKind.HISTOGRAM:
            plan += [(family, "count"), (family, "sum"), (family, "quantile")]
        else:
            plan.append((family, "value"))
    collection = _Collection(runtime, frozenset(f"{f.name}#{part}" for f, part in plan))
    instruments: list[Any] = []
    for family, part in plan:
        callback = _observe(collection, family.name, part)
        if part == "value" and family.kind is MetricKind.COUNTER:
            create: Any = meter.create_observable_counter
            name, unit = family.name, family.unit
        elif part == "value":
            create, name, unit = meter.create_observable_gauge, family.name, family.unit
        elif part == "count":
            create, name, unit = meter.create_observable_counter, f"{family.name}_count", "1"
        elif part == "sum":
            create, name, unit = meter.create_observable_counter, f"{family.name}_sum", family.unit
        else:
            create, name = meter.create_observable_gauge, f"{family.name}_quantile"
            unit = family.unit
        instruments.append(
            create(name, callbacks=[callback], unit=unit, description=family.description)
        )
    return instruments
