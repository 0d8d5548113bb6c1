"""The sampler: one shared reading of the runtime per interval, however many clients look.

A request or a Server-Sent-Events client asks for :meth:`Sampler.current`; the first one
after ``interval`` takes a new sample (actors, supervisors, health, a chart point) and the
others reuse it, so 20 dashboards cost one sample per interval, not 20. Per-actor
activity is the change of ``processed`` between two samples (etop's reductions delta).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bastion._core._histogram import EMPTY_SNAPSHOT, HistogramSnapshot, merge
from bastion._core._ref import ActorRef
from bastion._core._runtime import Runtime
from bastion._core._stats import ActorStatistics, RuntimeStatistics
from bastion.console._rollout_reads import rollout_statuses
from bastion.console._rows import ActorRow, SeriesPoint, SupervisorRow
from bastion.console._slices import CHECK_EVERY, Slicer
from bastion.console._tree import Listings, read_statistics, read_supervisors
from bastion.telemetry import DEFAULT_SLOS, SLO, HealthMonitor, HealthReport, MetricFamily

__all__ = ["COST_FACTOR", "Sample", "Sampler"]

_FAILED = ("crash", "timeout", "not_alive")
#: A sample waits at least this many times the previous one's duration (cost <= 1/10).
COST_FACTOR = 10.0


@dataclass(frozen=True, slots=True)
class Sample:
    """Everything the console shows at one instant (runtime clock ``at``, wall ``wall``)."""

    seq: int
    at: float
    wall: float
    actors: tuple[ActorRow, ...]
    supervisors: dict[str, SupervisorRow]
    runtime: RuntimeStatistics
    health: HealthReport | None
    point: SeriesPoint
    rollouts: list[dict[str, Any]]


class Sampler:
    """Takes and caches samples of ``runtime``; keeps the chart series (``history`` points)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        interval: float = 1.0,
        history: int = 300,
        slos: Sequence[SLO] = DEFAULT_SLOS,
        chart_window: float = 10.0,
    ) -> None:
        if not 0 < interval <= 60:
            raise ValueError(f"interval must be within (0, 60] seconds, got {interval!r}")
        if not 1 <= history <= 100_000:
            raise ValueError(f"history must be within 1..100000 points, got {history!r}")
        self.runtime = runtime
        self.interval = interval
        self.chart_window = chart_window
        self.series: deque[SeriesPoint] = deque(maxlen=history)
        self._monitor = HealthMonitor(runtime.metrics, slos) if runtime.metrics.enabled else None
        self._previous: dict[int, int] = {}
        self._previous_at = runtime.clock.now()
        self._sample: Sample | None = None
        self._lock = asyncio.Lock()
        self._seq = 0
        self.cost = 0.0  # seconds of work the last sample took (others' turns excluded)
        self.slices = 0  # turns of the loop the last sample's work was spread over
        self.longest_slice = 0.0  # seconds of the longest of them
        self._listings: Listings = {}
        self._latencies: deque[tuple[float, dict[tuple[str, ...], HistogramSnapshot]]] = deque()
        self.health_every = max(interval, 5.0)
        self._report: HealthReport | None = None
        self._call_totals: deque[tuple[float, float, float]] = deque()

    async def current(self, *, max_age: float | None = None) -> Sample:
        """The latest sample, taken anew if it is older than ``max_age`` (default: interval).

        A sample is never taken sooner than :data:`COST_FACTOR` times the last one's
        duration after it, so sampling a large node costs at most a tenth of its loop.
        """
        age = max(self.interval if max_age is None else max_age, self.cost * COST_FACTOR)
        sample = self._sample
        if sample is not None and self.runtime.clock.now() - sample.at < age:
            return sample
        async with self._lock:
            sample = self._sample  # another client may have sampled while we waited
            if sample is not None and self.runtime.clock.now() - sample.at < age:
                return sample
            slicer = Slicer()
            sample = await self._take(slicer)
            self.cost = slicer.finish()
            self.slices, self.longest_slice = slicer.slices, slicer.longest
            self._sample = sample
            self.series.append(sample.point)
            return sample

    async def _take(self, slicer: Slicer) -> Sample:
        rt = self.runtime
        now = rt.clock.now()
        table = await read_statistics(rt, slicer)
        supervisors, placement = await read_supervisors(
            table, self._restart_counts(), cache=self._listings, slicer=slicer
        )
        actors = await self._actors(now, table, placement, slicer)
        stats = rt.statistics()
        health = self._health(now)
        rollouts = await slicer.wait(rollout_statuses(rt))
        self._seq += 1
        point = self._point(stats, actors)
        return Sample(
            self._seq, now, time.time(), actors, supervisors, stats, health, point, rollouts
        )

    async def _actors(
        self,
        now: float,
        table: dict[ActorRef, ActorStatistics],
        placement: dict[int, tuple[str, str]],
        slicer: Slicer,
    ) -> tuple[ActorRow, ...]:
        elapsed = max(now - self._previous_at, 1e-9)
        previous, current = self._previous, {}
        rows = []
        for n, s in enumerate(table.values()):
            if n % CHECK_EVERY == 0:
                await slicer.pause()
            current[s.id] = s.processed
            rate = (s.processed - previous[s.id]) / elapsed if s.id in previous else 0.0
            state = "stopped" if not s.alive else ("idle" if s.parked else "busy")
            sup, child = placement.get(s.id, (None, None))
            rows.append(
                ActorRow(s.id, s.name, s.actor_class, state, s.mailbox_depth,
                         s.mailbox_capacity, s.processed, round(rate, 3), sup, child)
            )  # fmt: skip
        self._previous, self._previous_at = current, now
        return tuple(rows)

    def _restart_counts(self) -> dict[tuple[str, str], int]:
        """Restarts per (supervisor label, child id), from ``bastion_restarts``."""
        metrics = self.runtime.metrics
        if not metrics.enabled:
            return {}
        counts: dict[tuple[str, str], int] = {}
        for sample in metrics.family("bastion_restarts").samples:
            supervisor, child, _reason = sample.label_values
            key = (supervisor, child)
            counts[key] = counts.get(key, 0) + int(sample.value)
        return counts

    def _call_rates(self, calls: MetricFamily) -> tuple[float, float]:
        """Calls per second and the failed share over the chart window, from totals kept
        per sample (one read of the counter instead of a window read per outcome)."""
        now = self.runtime.clock.now()
        total = calls.total()
        failed = sum(calls.total(outcome=o) for o in _FAILED)
        history = self._call_totals
        history.append((now, total, failed))
        while len(history) > 2 and now - history[1][0] >= self.chart_window:
            history.popleft()
        then, total_then, failed_then = history[0]
        span, delta = now - then, total - total_then
        rate = delta / span if span > 0 else 0.0
        return rate, ((failed - failed_then) / delta if delta else 0.0)

    def _latency(self, durations: MetricFamily) -> HistogramSnapshot:
        """Call durations over the chart window, from the histograms kept per sample (a
        window read of the registry would collect every metric: a walk of every actor)."""
        now = self.runtime.clock.now()
        current = {s.label_values: s.histogram for s in durations.samples if s.histogram}
        history = self._latencies
        history.append((now, current))
        while len(history) > 2 and now - history[1][0] >= self.chart_window:
            history.popleft()
        then = history[0][1] if len(history) > 1 else {}
        parts = [h.minus(then[k]) if k in then else h for k, h in current.items()]
        return merge(parts) if parts else EMPTY_SNAPSHOT

    def _health(self, now: float) -> HealthReport | None:
        """The health report, evaluated at most every ``health_every`` seconds (its
        windows are a minute or more: a fresher one would say the same, at a cost)."""
        if self._monitor is None:
            return None
        if self._report is None or now - self._report.at >= self.health_every:
            self._report = self._monitor.evaluate()
        return self._report

    def _point(self, stats: RuntimeStatistics, actors: tuple[ActorRow, ...]) -> SeriesPoint:
        metrics = self.runtime.metrics
        calls_rate = error_rate = 0.0
        p50 = p99 = None
        queue = 0
        if metrics.enabled:
            calls_rate, error_rate = self._call_rates(metrics.family("bastion_calls"))
            latency = self._latency(metrics.family("bastion_call_duration_seconds"))
            if latency.count:
                p50, p99 = latency.percentile(50), latency.percentile(99)
            queue = int(
                sum(s.value for s in metrics.family("bastion_task_agent_queue_length").samples)
            )
        return SeriesPoint(
            at=round(time.time(), 3),
            calls_per_second=round(calls_rate, 3),
            error_rate=round(error_rate, 6),
            latency_p50=p50,
            latency_p99=p99,
            restarts=stats.restarts,
            dead_letters=stats.dead_letters.total,
            mailbox_depth=sum(a.mailbox_depth for a in actors),
            task_queue=queue,
            actors=stats.actors,
        )
