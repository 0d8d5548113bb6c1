"""Sliding windows on the runtime clock: the change of a metric over the last N seconds.

The registry keeps a ring of snapshots (its collected families), taken when it is read
(:meth:`MetricsRegistry.tick`; settled snapshots are at least :data:`RESOLUTION`
apart, the newest one follows the latest read). A window of
``W`` seconds compares the current values with the newest snapshot at least ``W``
seconds old; the reading says which span it really covers. Snapshots older than
:data:`DENSE_SPAN` are thinned to one per :data:`SPARSE_SPACING` seconds and dropped
after :data:`HORIZON`, so the ring stays under ~50 entries. Reads happen on the runtime
clock, so windows work under virtual time, and nothing here schedules a timer.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bastion._core._histogram import EMPTY_SNAPSHOT, HistogramSnapshot, merge

if TYPE_CHECKING:
    from bastion._core._metrics import MetricFamily, Sample

__all__ = ["HORIZON", "RESOLUTION", "SnapshotRing", "WindowReading"]

RESOLUTION = 1.0
DENSE_SPAN = 15.0
SPARSE_SPACING = 10.0
HORIZON = 330.0
_MIN_REFRESH = 0.05  # reads closer together than this share a snapshot
#: ... or closer than this many times the last collection took (a large registry: one
#: health report's window reads then share one collection instead of each collecting).
_COST_FACTOR = 10.0


@dataclass(frozen=True, slots=True)
class WindowReading:
    """A metric over a window.

    ``delta``: a counter's increase, or a histogram's count, in the window; ``rate``:
    delta per second over ``max(seconds, requested)``; ``value``: a gauge's current
    value (the current total otherwise); ``histogram``: for histograms, only the values
    recorded in the window. ``seconds`` is the span really covered.
    """

    name: str
    requested: float
    seconds: float
    delta: float
    rate: float
    value: float
    histogram: HistogramSnapshot | None


class SnapshotRing:
    """Timestamped collections of every metric (registry use)."""

    def __init__(self, created: float) -> None:
        self._entries: deque[tuple[float, dict[str, MetricFamily]]] = deque([(created, {})])
        self._cost = 0.0  # wall seconds the last collection took

    def refresh(self, now: float, collect: Callable[[], tuple[MetricFamily, ...]]) -> None:
        """Record the state at ``now`` if it moves the ring forward.

        The creation baseline is kept; the newest entry moves forward until it is
        :data:`RESOLUTION` after the one before it, then a new entry starts, so settled
        entries are at least a second apart whatever the read rate.
        """
        entries = self._entries
        if len(entries) > 1 and now - entries[-1][0] < max(_MIN_REFRESH, _COST_FACTOR * self._cost):
            return
        started = time.perf_counter()
        snapshot = (now, {f.name: f for f in collect()})
        self._cost = time.perf_counter() - started
        if len(entries) > 2 and entries[-1][0] - entries[-2][0] < RESOLUTION:
            entries[-1] = snapshot
        else:
            entries.append(snapshot)
        self._thin(now)

    def _thin(self, now: float) -> None:
        """Drop entries past the horizon; beyond the dense span keep the newest entry of
        each :data:`SPARSE_SPACING`-long stretch of the clock. The oldest entry (the
        baseline) is kept."""
        entries = self._entries
        while len(entries) > 2 and now - entries[1][0] > HORIZON:
            entries.popleft()
        kept: deque[tuple[float, dict[str, MetricFamily]]] = deque()
        first = entries[0]
        stretch = None
        for entry in reversed(entries):
            if entry is not first and now - entry[0] > DENSE_SPAN:
                here = entry[0] // SPARSE_SPACING
                if here == stretch:
                    continue  # a newer entry of this stretch is kept
                stretch = here
            kept.appendleft(entry)
        self._entries = kept

    def window(
        self, current: MetricFamily, now: float, seconds: float, labels: Mapping[str, str]
    ) -> WindowReading:
        """Compare ``current`` with the newest snapshot at least ``seconds`` old."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ValueError(f"window seconds must be a number > 0, got {seconds!r}")
        start, base = self._entries[0]
        for stamp, families in self._entries:
            if stamp > now - seconds:
                break
            start, base = stamp, families
        earlier = base.get(current.name)
        now_samples = _select(current, labels)
        value = sum(s.value for s in now_samples)
        span = max(now - start, 0.0)
        if current.kind == "gauge":
            return WindowReading(current.name, seconds, span, 0.0, 0.0, value, None)
        then_samples = _select(earlier, labels) if earlier is not None else ()
        then = {s.label_values: s for s in then_samples}
        histogram = None
        if current.kind == "histogram":
            parts = [
                _minus(s.histogram, then.get(s.label_values)) for s in now_samples if s.histogram
            ]
            histogram = merge(parts) if parts else EMPTY_SNAPSHOT
            delta = float(histogram.count)
        else:
            delta = value - sum(s.value for s in then_samples)
        rate = delta / max(span, seconds)  # a young registry: per requested window
        return WindowReading(current.name, seconds, span, delta, rate, value, histogram)


def _select(family: MetricFamily, labels: Mapping[str, str]) -> tuple[Sample, ...]:
    if not labels:
        return family.samples
    names = family.label_names
    for name in labels:
        if name not in names:
            raise ValueError(f"{family.name} has no label {name!r}; labels are {names!r}")
    index = [(names.index(n), v) for n, v in labels.items()]
    return tuple(s for s in family.samples if all(s.label_values[i] == v for i, v in index))


def _minus(now: HistogramSnapshot, then: Sample | None) -> HistogramSnapshot:
    if then is None or then.histogram is None:
        return now
    return now.minus(then.histogram)
