"""Metrics: counters, gauges and histograms in a per-runtime registry (``rt.metrics``).

Writing
    ``registry.counter(name, description, unit=..., labels=(...))`` returns a
    :class:`Counter`; ``.labels(*values)`` returns its child for one label set (cache
    it on hot paths), and ``.inc()`` on either counts. :class:`Gauge` has ``set``,
    ``inc``, ``dec`` (an up-down counter); :class:`Histogram` has ``record(seconds)``.
    Metrics without labels are their own only child. Registering the same name again
    with the same kind and labels returns the existing metric. Kernel metrics are read
    at collection from plain counters the kernel keeps (:meth:`MetricsRegistry.callback`).

Cardinality guard
    Each labelled metric holds at most ``max_series`` label sets (default 100). Later
    label sets fold into one series whose label values are all ``"other"``; the first
    fold logs one warning on ``bastion.metrics`` and is counted in
    ``bastion_metric_series_folded_total{metric}``.

Reading (the stable API exporters build on)
    :meth:`MetricsRegistry.collect` returns ``tuple[MetricFamily, ...]``: frozen
    dataclasses with ``name``, ``kind`` (:class:`MetricKind`: ``counter`` monotonic,
    ``gauge`` up-down or set, ``histogram``), ``description``, ``unit`` (UCUM: ``s``,
    ``By``, ``1``), ``label_names`` and ``samples``. Each :class:`Sample` has
    ``label_values`` (aligned with ``label_names``), ``value`` (a float; a histogram's
    count) and ``histogram`` (a :class:`HistogramSnapshot` for histograms, else None:
    ``count``, ``sum``, ``bounds``/``lower_bounds``/``counts`` of the non-empty
    log-linear buckets, ``percentile(p)``, ``quantile(q)``, ``cumulative(le_bounds)``).
    Names are snake_case with a ``bastion_`` prefix and the unit as suffix
    (``bastion_call_duration_seconds``); counters are named without ``_total``, which
    Prometheus exposition adds. :meth:`MetricsRegistry.family` reads one metric;
    :meth:`MetricsRegistry.window` reads the change over the last N seconds of the
    runtime clock (see :mod:`bastion._core._windows`). Unknown names raise
    :class:`UnknownMetric` (a ``KeyError``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Generic, TypeVar

from bastion._core._histogram import LogLinearHistogram
from bastion._core._metric_types import (
    MetricFamily,
    MetricKind,
    Sample,
    UnknownMetric,
    check_definition,
)
from bastion._core._windows import SnapshotRing, WindowReading

__all__ = [
    "OTHER",
    "Counter",
    "Gauge",
    "Histogram",
    "MetricFamily",
    "MetricKind",
    "MetricsRegistry",
    "Sample",
    "UnknownMetric",
]

_log = logging.getLogger("bastion.metrics")
OTHER = "other"
DEFAULT_MAX_SERIES = 100


class _CounterChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (>= 0: a counter never goes down)."""
        if amount < 0:
            raise ValueError(f"a counter only goes up; got inc({amount!r}) (use a gauge)")
        self.value += amount


class _GaugeChild(_CounterChild):
    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (negative lowers the gauge)."""
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        """Subtract ``amount``."""
        self.value -= amount

    def set(self, value: float) -> None:
        """Set the current value."""
        self.value = value


C = TypeVar("C")


class _Metric(Generic[C]):
    kind: MetricKind

    def __init__(
        self,
        registry: MetricsRegistry,
        name: str,
        description: str,
        unit: str,
        label_names: tuple[str, ...],
        max_series: int,
    ) -> None:
        self.registry = registry
        self.name = name
        self.description = description
        self.unit = unit
        self.label_names = label_names
        self.max_series = max_series
        self._children: dict[tuple[str, ...], C] = {}
        self._folded = False
        self._default: C | None = self.labels() if not label_names else None

    def _new_child(self) -> C:
        raise NotImplementedError

    def labels(self, *values: object) -> C:
        """The child for one label set (values are converted with ``str``)."""
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is not None:
            return child
        if len(key) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names!r}, got {values!r}")
        if len(self._children) >= self.max_series:
            return self._fold()
        child = self._children[key] = self._new_child()
        return child

    def _fold(self) -> C:
        key = (OTHER,) * len(self.label_names)
        if not self._folded:
            self._folded = True
            _log.warning(
                "metric %s exceeded its budget of %d label sets; further ones are counted under %r",
                self.name,
                self.max_series,
                OTHER,
            )
        self.registry.note_fold(self.name)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self._new_child()
        return child

    def _only(self) -> C:
        if self._default is None:
            raise ValueError(f"{self.name} has labels {self.label_names!r}: use .labels(...)")
        return self._default

    def samples(self) -> tuple[Sample, ...]:
        """The current samples (collection)."""
        return tuple(Sample(k, float(c.value)) for k, c in self._children.items())  # type: ignore[attr-defined]


class Counter(_Metric[_CounterChild]):
    """A monotonic total. ``inc()`` directly when unlabelled, else ``labels(...).inc()``."""

    kind = MetricKind.COUNTER

    def _new_child(self) -> _CounterChild:
        return _CounterChild()

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (>= 0) to the unlabelled counter."""
        self._only().inc(amount)


class Gauge(_Metric[_GaugeChild]):
    """A current value: ``set``, or ``inc``/``dec`` as an up-down counter."""

    kind = MetricKind.GAUGE

    def _new_child(self) -> _GaugeChild:
        return _GaugeChild()

    def set(self, value: float) -> None:
        """Set the unlabelled gauge."""
        self._only().value = value

    def inc(self, amount: float = 1.0) -> None:
        """Raise the unlabelled gauge."""
        self._only().value += amount

    def dec(self, amount: float = 1.0) -> None:
        """Lower the unlabelled gauge."""
        self._only().value -= amount


class Histogram(_Metric[LogLinearHistogram]):
    """A distribution (seconds by default): ``record(value)`` or ``labels(...).record``."""

    kind = MetricKind.HISTOGRAM

    def _new_child(self) -> LogLinearHistogram:
        return LogLinearHistogram()

    def record(self, value: float) -> None:
        """Record one value in the unlabelled histogram."""
        self._only().record(value)

    def samples(self) -> tuple[Sample, ...]:
        """The current samples with histogram snapshots (collection)."""
        out = []
        for key, child in self._children.items():
            snap = child.snapshot()
            out.append(Sample(key, float(snap.count), snap))
        return tuple(out)


Collect = Callable[[], Iterable[Sample]]


class _Callback:
    """A metric whose samples a function computes at collection (kernel counters)."""

    def __init__(
        self,
        name: str,
        kind: MetricKind,
        description: str,
        unit: str,
        label_names: tuple[str, ...],
        read: Collect,
    ) -> None:
        self.name = name
        self.kind = kind
        self.description = description
        self.unit = unit
        self.label_names = label_names
        self.read = read

    def samples(self) -> tuple[Sample, ...]:
        """Call the function (collection)."""
        return tuple(self.read())


AnyMetric = Counter | Gauge | Histogram | _Callback


class MetricsRegistry:
    """All metrics of one runtime. ``clock`` is the runtime clock (``loop.time``)."""

    def __init__(self, clock: Callable[[], float], *, enabled: bool = True) -> None:
        self.clock = clock
        self.enabled = enabled
        self._metrics: dict[str, AnyMetric] = {}
        self._ring = SnapshotRing(clock())
        self._folds = self.counter(
            "bastion_metric_series_folded",
            "Label sets folded into 'other' because a metric exceeded its label budget.",
            labels=("metric",),
        )

    # -- registration ------------------------------------------------------------------
    def counter(
        self,
        name: str,
        description: str,
        *,
        unit: str = "1",
        labels: Sequence[str] = (),
        max_series: int = DEFAULT_MAX_SERIES,
    ) -> Counter:
        """Register (or return the existing) counter ``name``."""
        return self._register(Counter, name, description, unit, labels, max_series)

    def gauge(
        self,
        name: str,
        description: str,
        *,
        unit: str = "1",
        labels: Sequence[str] = (),
        max_series: int = DEFAULT_MAX_SERIES,
    ) -> Gauge:
        """Register (or return the existing) gauge ``name``."""
        return self._register(Gauge, name, description, unit, labels, max_series)

    def histogram(
        self,
        name: str,
        description: str,
        *,
        unit: str = "s",
        labels: Sequence[str] = (),
        max_series: int = DEFAULT_MAX_SERIES,
    ) -> Histogram:
        """Register (or return the existing) histogram ``name``."""
        return self._register(Histogram, name, description, unit, labels, max_series)

    def callback(
        self,
        name: str,
        kind: MetricKind,
        description: str,
        read: Collect,
        *,
        unit: str = "1",
        labels: Sequence[str] = (),
    ) -> None:
        """Register a metric whose samples ``read()`` returns at each collection."""
        label_names = check_definition(name, description, labels)
        if name in self._metrics:
            raise ValueError(f"metric {name!r} is already registered")
        metric = _Callback(name, MetricKind(kind), description, unit, label_names, read)
        self._metrics[name] = metric

    M = TypeVar("M", Counter, Gauge, Histogram)

    def _register(
        self,
        cls: type[M],
        name: str,
        description: str,
        unit: str,
        labels: Sequence[str],
        max_series: int,
    ) -> M:
        label_names = check_definition(name, description, labels)
        if isinstance(max_series, bool) or not isinstance(max_series, int) or max_series < 1:
            raise ValueError(f"max_series must be an int >= 1, got {max_series!r}")
        existing = self._metrics.get(name)
        if existing is not None:
            if type(existing) is not cls or existing.label_names != label_names:
                raise ValueError(f"metric {name!r} is already registered with another shape")
            return existing
        metric = cls(self, name, description, unit, label_names, max_series)
        self._metrics[name] = metric
        return metric

    def note_fold(self, name: str) -> None:
        """Count a label set folded into ``other`` (metric use)."""
        self._folds.labels(name).value += 1

    # -- reading -----------------------------------------------------------------------
    def names(self) -> tuple[str, ...]:
        """Every registered metric name, sorted."""
        return tuple(sorted(self._metrics))

    def collect(self) -> tuple[MetricFamily, ...]:
        """Every metric with its current samples, sorted by name (the exporters' input)."""
        return tuple(self._family(self._metrics[name]) for name in sorted(self._metrics))

    def family(self, name: str) -> MetricFamily:
        """One metric's current samples; :class:`UnknownMetric` if ``name`` is unknown."""
        return self._family(self._lookup(name))

    def window(
        self, name: str, seconds: float, labels: Mapping[str, str] | None = None
    ) -> WindowReading:
        """The change of metric ``name`` over the last ``seconds`` of the runtime clock.

        Summed over the series matching ``labels``. Windows are measured between
        snapshots the registry takes when it is read (settled ones a second or more
        apart), so a reading covers ``reading.seconds``: the request or a little more,
        less only if the runtime is younger, more if nothing read the registry for
        longer than the window. Read it periodically (a HealthMonitor does).
        """
        metric = self._lookup(name)
        now = self.clock()
        self.tick(now)
        current = self._family(metric)
        return self._ring.window(current, now, seconds, dict(labels or {}))

    def tick(self, now: float | None = None) -> None:
        """Record the current values for later windows (called by every read)."""
        self._ring.refresh(self.clock() if now is None else now, self.collect)

    def _lookup(self, name: str) -> AnyMetric:
        metric = self._metrics.get(name)
        if metric is None:
            known = ", ".join(sorted(self._metrics))
            raise UnknownMetric(f"no metric named {name!r}; known metrics: {known}")
        return metric

    @staticmethod
    def _family(metric: AnyMetric) -> MetricFamily:
        return MetricFamily(
            name=metric.name,
            kind=metric.kind,
            description=metric.description,
            unit=metric.unit,
            label_names=metric.label_names,
            samples=metric.samples(),
        )
