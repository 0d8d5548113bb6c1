"""``MonitorAgent``: periodic health samples, threshold alerts as signals, bounded history.

Every ``interval`` (runtime clock) it samples the runtime's ``statistics()``, every
actor's mailbox depth, the queue sizes and outcome counters TaskAgents publish in the
registry, and the process's resident memory. A threshold crossed raises an alert: the
signal ``monitor.alert.<kind>`` on its bus (if it has one) and an entry in
``active_alerts``; when the value falls back, ``monitor.alert_cleared.<kind>``. Samples
are kept in a ring buffer of ``history_size``.
"""

from __future__ import annotations

import resource
import sys
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from bastion._core import _event_names, _events
from bastion._core._durations import positive_seconds
from bastion._core._timers import Timer
from bastion.agents._actions import action
from bastion.agents._agent import Agent

__all__ = ["HealthSample", "MonitorAgent", "Thresholds"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Alert limits; ``None`` disables one."""

    max_mailbox_depth: int | None = 500
    max_queue_size: int | None = 800
    max_error_rate: float | None = 0.05
    max_restarts_per_interval: int | None = 3
    max_memory_mb: float | None = None


@dataclass(frozen=True, slots=True)
class HealthSample:
    """One collection."""

    at: float
    actors: int
    restarts: int
    restarts_delta: int
    crashed: int
    max_mailbox_depth: int
    busiest_actor: str | None
    queue_sizes: dict[str, int]
    error_rate: float
    memory_mb: float
    score: int
    band: str
    alerts: tuple[str, ...] = field(default_factory=tuple)


def _memory_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def _band(score: int) -> str:
    for limit, name in ((90, "excellent"), (75, "good"), (50, "fair"), (25, "poor")):
        if score >= limit:
            return name
    return "critical"


@dataclass(frozen=True, slots=True)
class _Collect:
    pass


class MonitorAgent(Agent):
    """Collects health every ``interval`` seconds and alerts on thresholds."""

    capabilities = ("monitoring", "alerting", "health_analysis")
    _bastion_framework = True

    def __init__(self, *, interval: float = 30.0, history_size: int = 1440,
                 thresholds: Thresholds | None = None, **kwargs: Any) -> None:
        """``interval`` seconds between samples; ``history_size`` samples kept."""
        super().__init__(**kwargs)
        positive_seconds("interval", interval)
        if history_size < 1:
            raise ValueError("history_size must be >= 1")
        self.interval = interval
        self.thresholds = thresholds or Thresholds()
        self.history: deque[HealthSample] = deque(maxlen=history_size)
        self.active_alerts: dict[str, float] = {}
        self._timer: Timer | None = None
        self._last_restarts: int | None = None
        self._last_outcomes: tuple[int, int] = (0, 0)

    async def setup(self) -> None:
        """Start the periodic collection."""
        self._timer = self.send_interval(self.interval, _Collect())

    async def _handle_internal(self, message: Any) -> bool:
        if not isinstance(message, _Collect):
            return False
        self._collect()
        return True

    @action
    def collect(self) -> HealthSample:
        """Take a sample now."""
        return self._collect()

    @action
    def health(self) -> HealthSample | None:
        """The latest sample."""
        return self.history[-1] if self.history else None

    @action
    def recent(self, limit: int = 10) -> list[HealthSample]:
        """The latest ``limit`` samples, oldest first."""
        return list(self.history)[-max(0, limit):]

    @action
    def alerts(self) -> dict[str, float]:
        """Active alerts and the value that raised each."""
        return dict(self.active_alerts)

    @action
    def set_thresholds(self, thresholds: dict[str, Any]) -> dict[str, Any]:
        """Replace some thresholds; returns them all."""
        self.thresholds = Thresholds(**{**asdict(self.thresholds), **thresholds})
        return asdict(self.thresholds)

    def _collect(self) -> HealthSample:
        rt = self.runtime
        stats = rt.statistics()
        depth, busiest = 0, None
        for ref in rt.actors():
            d = ref.statistics().mailbox_depth
            if d > depth:
                depth, busiest = d, ref.name
        queues: dict[str, int] = {}
        processed = failed = 0
        for entry in rt.registry.entries():
            if "queued" in entry.metadata:
                queues[entry.name] = int(entry.metadata["queued"])
                processed += int(entry.metadata.get("processed", 0))
                failed += int(entry.metadata.get("failed", 0))
        restarts_delta = stats.restarts - (self._last_restarts or stats.restarts)
        self._last_restarts = stats.restarts
        dp, df = processed - self._last_outcomes[0], failed - self._last_outcomes[1]
        self._last_outcomes = (processed, failed)
        rate = df / (dp + df) if dp + df > 0 else 0.0
        values = {"mailbox_depth": depth, "queue_size": max(queues.values(), default=0),
                  "error_rate": rate, "restarts": restarts_delta, "memory_mb": _memory_mb()}
        alerts = self._evaluate(values)
        score = max(0, 100 - 25 * len(alerts))
        sample = HealthSample(
            at=self.clock.now(), actors=stats.actors, restarts=stats.restarts,
            restarts_delta=restarts_delta, crashed=stats.crashed, max_mailbox_depth=depth,
            busiest_actor=busiest, queue_sizes=queues, error_rate=rate,
            memory_mb=values["memory_mb"], score=score, band=_band(score), alerts=alerts)
        self.history.append(sample)
        _events.emit(_event_names.AGENT_MONITOR_SAMPLE,
                     {"score": score, "alerts": len(alerts)}, self._meta())
        return sample

    def _evaluate(self, values: dict[str, float]) -> tuple[str, ...]:
        t = self.thresholds
        limits = {"mailbox_depth": t.max_mailbox_depth, "queue_size": t.max_queue_size,
                  "error_rate": t.max_error_rate, "restarts": t.max_restarts_per_interval,
                  "memory_mb": t.max_memory_mb}
        raised = []
        for kind, limit in limits.items():
            over = limit is not None and values[kind] > limit
            if over:
                raised.append(kind)
                if kind not in self.active_alerts:
                    self.publish(f"monitor.alert.{kind}", {"value": values[kind], "limit": limit})
                self.active_alerts[kind] = values[kind]
            elif kind in self.active_alerts:
                del self.active_alerts[kind]
                self.publish(f"monitor.alert_cleared.{kind}", {"value": values[kind]})
        return tuple(raised)
