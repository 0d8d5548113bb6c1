"""``MonitorAgent``: periodic health samples, threshold alerts as signals, bounded history.

Every ``interval`` (runtime clock) it reads the runtime's metrics through a
:class:`~bastion.telemetry.HealthMonitor`: the deepest mailbox, TaskAgent queue lengths,
the error rate (the worse of failed calls and failed TaskAgent tasks) and restarts over
the last ``interval``, plus the process's resident memory, and it evaluates the SLOs
(``slos=``) into the sample's ``report``. A threshold crossed raises an alert: the
signal ``monitor.alert.<kind>`` on its bus (if it has one) and an entry in
``active_alerts``; when the value falls back, ``monitor.alert_cleared.<kind>``. Samples
are kept in a ring buffer of ``history_size``. It needs the runtime's metrics on.
"""

from __future__ import annotations

import resource
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bastion._core import _event_names, _events
from bastion._core._durations import positive_seconds
from bastion._core._timers import Timer
from bastion.agents._actions import action
from bastion.agents._agent import Agent
from bastion.telemetry import DEFAULT_SLOS, SLO, HealthMonitor, HealthReport

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
    """One collection. ``busiest_actor`` is the actor class with the deepest mailbox;
    ``report`` is the SLO verdict of the monitor's :class:`HealthMonitor`."""

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
    report: HealthReport | None = None


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

    def __init__(
        self,
        *,
        interval: float = 30.0,
        history_size: int = 1440,
        thresholds: Thresholds | None = None,
        slos: Sequence[SLO] = DEFAULT_SLOS,
        **kwargs: Any,
    ) -> None:
        """``interval`` seconds between samples; ``history_size`` samples kept."""
        super().__init__(**kwargs)
        positive_seconds("interval", interval)
        if history_size < 1:
            raise ValueError("history_size must be >= 1")
        self.interval = interval
        self.thresholds = thresholds or Thresholds()
        self.history: deque[HealthSample] = deque(maxlen=history_size)
        self.active_alerts: dict[str, float] = {}
        self.slos = tuple(slos)
        self._timer: Timer | None = None
        self._health: HealthMonitor | None = None

    async def setup(self) -> None:
        """Start the periodic collection."""
        if not self.runtime.metrics.enabled:
            raise ValueError("MonitorAgent reads the runtime's metrics: open_runtime(metrics=True)")
        self._health = HealthMonitor(self.runtime.metrics, self.slos)
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
        return list(self.history)[-max(0, limit) :]

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
        health, metrics = self._health, self.runtime.metrics
        assert health is not None, "setup() creates the HealthMonitor"
        report = health.evaluate()
        stats = self.runtime.statistics()
        depths = metrics.family("bastion_mailbox_depth_max").samples
        deepest = max(depths, key=lambda s: s.value, default=None)
        depth = int(deepest.value) if deepest is not None else 0
        busiest = deepest.label_values[0] if deepest is not None and depth else None
        queues = {
            s.label_values[0]: int(s.value)
            for s in metrics.family("bastion_task_agent_queue_length").samples
        }
        window = self.interval
        rate = max(
            health.measure("error_rate", window), health.measure("task_failure_rate", window)
        )
        restarts_delta = int(metrics.window("bastion_restarts", window).delta)
        values = {
            "mailbox_depth": depth,
            "queue_size": max(queues.values(), default=0),
            "error_rate": rate,
            "restarts": restarts_delta,
            "memory_mb": _memory_mb(),
        }
        alerts = self._evaluate(values)
        score = max(0, 100 - 25 * len(alerts))
        sample = HealthSample(
            at=self.clock.now(),
            actors=stats.actors,
            restarts=stats.restarts,
            restarts_delta=restarts_delta,
            crashed=stats.crashed,
            max_mailbox_depth=depth,
            busiest_actor=busiest,
            queue_sizes=queues,
            error_rate=rate,
            memory_mb=values["memory_mb"],
            score=score,
            band=_band(score),
            alerts=alerts,
            report=report,
        )
        self.history.append(sample)
        _events.emit(
            _event_names.AGENT_MONITOR_SAMPLE, {"score": score, "alerts": len(alerts)}, self._meta()
        )
        return sample

    def _evaluate(self, values: dict[str, float]) -> tuple[str, ...]:
        t = self.thresholds
        limits = {
            "mailbox_depth": t.max_mailbox_depth,
            "queue_size": t.max_queue_size,
            "error_rate": t.max_error_rate,
            "restarts": t.max_restarts_per_interval,
            "memory_mb": t.max_memory_mb,
        }
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
