"""``HealthMonitor``: health signals from the runtime's metrics, judged against SLOs.

A signal is a number computed from ``rt.metrics`` over a window of the runtime clock
(so it works under virtual time): an error rate, a latency percentile, a saturation. An
:class:`SLO` gives a signal its ``degraded`` and ``failing`` limits and its window.
:meth:`HealthMonitor.evaluate` turns them into a frozen :class:`HealthReport`: the worst
status, every signal with its value and limits, and the signals that drove the status.
Telemetry observes: a report is data for a person, a rollout or the console; nothing in
Bastion changes behaviour because of one.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bastion._core._metrics import MetricsRegistry

__all__ = ["DEFAULT_SLOS", "SIGNALS", "SLO", "HealthMonitor", "HealthReport", "HealthStatus",
           "SignalReading"]  # fmt: skip


class HealthStatus(enum.StrEnum):
    """How healthy, worst last."""

    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"


#: Signal name → what it measures (values are ratios 0-1, per-second or per-minute
#: rates, seconds, or operations, as stated).
SIGNALS: Mapping[str, str] = {
    "error_rate": "calls that crashed, timed out or found the actor dead / calls (0-1)",
    "task_failure_rate": "TaskAgent tasks failed / tasks finished (0-1)",
    "restart_rate": "supervisor restarts per minute",
    "latency_p50": "median call round trip (seconds)",
    "latency_p95": "95th percentile call round trip (seconds)",
    "latency_p99": "99th percentile call round trip (seconds)",
    "mailbox_saturation": "fullest mailbox now / its capacity (0-1)",
    "dead_letter_rate": "dead letters per second",
    "persistence_lag": "operations queued for the store's next group commit (now)",
    "persistence_write_p99": "99th percentile acknowledged-write latency (seconds)",
}
_COUNT_BASED = {"error_rate", "task_failure_rate", "latency_p50", "latency_p95", "latency_p99",
                "persistence_write_p99"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SLO:
    """Limits for one signal: at or above ``degraded`` (or ``failing``) the signal is."""

    signal: str
    degraded: float
    failing: float
    window: float = 60.0

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            known = ", ".join(SIGNALS)
            raise ValueError(f"unknown health signal {self.signal!r}; known signals: {known}")
        for name in ("degraded", "failing", "window"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"SLO {name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"SLO {name} must be a finite number >= 0, got {value!r}")
        if self.failing < self.degraded:
            raise ValueError(f"SLO {self.signal}: failing ({self.failing}) < degraded")
        if self.window <= 0:
            raise ValueError(f"SLO {self.signal}: window must be > 0 seconds")

    def judge(self, value: float) -> HealthStatus:
        """The status of ``value`` under these limits."""
        if value >= self.failing:
            return HealthStatus.FAILING
        if value >= self.degraded:
            return HealthStatus.DEGRADED
        return HealthStatus.OK


#: A reasonable start: 1 % / 5 % errors, p99 over 1 s / 5 s, restarts, saturation, lag.
DEFAULT_SLOS: tuple[SLO, ...] = (
    SLO("error_rate", 0.01, 0.05, 60.0),
    SLO("task_failure_rate", 0.05, 0.25, 300.0),
    SLO("restart_rate", 1.0, 5.0, 300.0),
    SLO("latency_p99", 1.0, 5.0, 60.0),
    SLO("mailbox_saturation", 0.8, 0.95, 60.0),
    SLO("dead_letter_rate", 1.0, 10.0, 60.0),
    SLO("persistence_lag", 10_000, 50_000, 60.0),
)


@dataclass(frozen=True, slots=True)
class SignalReading:
    """One signal in a report: its value, limits, window, sample count and status.

    ``samples`` is how many events the value rests on (calls, tasks...); below the
    monitor's ``min_samples`` a rate or percentile is reported but judged ``ok``.
    """

    signal: str
    value: float
    degraded: float
    failing: float
    window: float
    samples: int
    status: HealthStatus


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The verdict: worst ``status``, all ``signals``, the ``drivers`` (not ok), ``at``."""

    status: HealthStatus
    signals: tuple[SignalReading, ...]
    drivers: tuple[SignalReading, ...]
    at: float
    cohort: str | None = None

    def signal(self, name: str) -> SignalReading:
        """The reading of ``name``; ``KeyError`` if the report has none."""
        for reading in self.signals:
            if reading.signal == name:
                return reading
        raise KeyError(f"the report has no signal {name!r}")


_ORDER = {HealthStatus.OK: 0, HealthStatus.DEGRADED: 1, HealthStatus.FAILING: 2}
_FAILED_OUTCOMES = ("crash", "timeout", "not_alive")


class HealthMonitor:
    """Evaluates SLOs over a runtime's metrics (``HealthMonitor(rt.metrics)``).

    ``cohort`` / ``actor_class`` narrow the call signals to one cohort or actor class
    (compare canary and baseline with two monitors). ``min_samples``: fewer calls or
    tasks than this in a window and a rate or percentile is judged ``ok``.
    """

    def __init__(
        self,
        metrics: MetricsRegistry,
        slos: Sequence[SLO] = DEFAULT_SLOS,
        *,
        cohort: str | None = None,
        actor_class: str | None = None,
        min_samples: int = 10,
    ) -> None:
        if not isinstance(metrics, MetricsRegistry):
            raise TypeError(f"HealthMonitor needs a MetricsRegistry (rt.metrics), got {metrics!r}")
        if not metrics.enabled:
            raise ValueError(
                "HealthMonitor needs the runtime's metrics: open_runtime(metrics=True)"
            )
        slos = tuple(slos)
        if not all(isinstance(s, SLO) for s in slos):
            raise TypeError("slos must be SLO instances")
        if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 0:
            raise ValueError(f"min_samples must be an int >= 0, got {min_samples!r}")
        self.metrics = metrics
        self.slos = slos
        self.cohort = cohort
        self.actor_class = actor_class
        self.min_samples = min_samples
        self._signals: dict[str, Callable[[float], tuple[float, int]]] = {
            "error_rate": self._error_rate,
            "task_failure_rate": self._task_failure_rate,
            "restart_rate": lambda w: self._rate("bastion_restarts", w, 60.0),
            "latency_p50": lambda w: self._latency(w, 50),
            "latency_p95": lambda w: self._latency(w, 95),
            "latency_p99": lambda w: self._latency(w, 99),
            "mailbox_saturation": lambda w: self._peak("bastion_mailbox_saturation_ratio", w),
            "dead_letter_rate": lambda w: self._rate("bastion_dead_letters", w, 1.0),
            "persistence_lag": lambda w: self._peak("bastion_persistence_writer_lag", w),
            "persistence_write_p99": self._write_p99,
        }

    def measure(self, signal: str, window: float = 60.0) -> float:
        """The current value of ``signal`` over the last ``window`` seconds."""
        if signal not in self._signals:
            known = ", ".join(SIGNALS)
            raise ValueError(f"unknown health signal {signal!r}; known signals: {known}")
        return self._signals[signal](window)[0]

    def evaluate(self) -> HealthReport:
        """Judge every SLO now; the report's status is the worst signal's."""
        self.metrics.tick()
        readings = []
        for slo in self.slos:
            value, samples = self._signals[slo.signal](slo.window)
            status = slo.judge(value)
            if slo.signal in _COUNT_BASED and samples < self.min_samples:
                status = HealthStatus.OK
            reading = SignalReading(
                slo.signal, value, slo.degraded, slo.failing, slo.window, samples, status
            )
            readings.append(reading)
        drivers = tuple(r for r in readings if r.status is not HealthStatus.OK)
        worst = max((r.status for r in readings), key=_ORDER.__getitem__, default=HealthStatus.OK)
        return HealthReport(worst, tuple(readings), drivers, self.metrics.clock(), self.cohort)

    # -- signals -----------------------------------------------------------------------
    def _call_labels(self) -> dict[str, str]:
        labels = {}
        if self.cohort is not None:
            labels["cohort"] = self.cohort
        if self.actor_class is not None:
            labels["actor_class"] = self.actor_class
        return labels

    def _error_rate(self, window: float) -> tuple[float, int]:
        labels = self._call_labels()
        total = self.metrics.window("bastion_calls", window, labels).delta
        failed = sum(
            self.metrics.window("bastion_calls", window, {**labels, "outcome": o}).delta
            for o in _FAILED_OUTCOMES
        )
        return (failed / total if total else 0.0), int(total)

    def _task_failure_rate(self, window: float) -> tuple[float, int]:
        total = self.metrics.window("bastion_task_agent_tasks", window).delta
        failed = sum(
            self.metrics.window("bastion_task_agent_tasks", window, {"outcome": o}).delta
            for o in ("failed",)
        )
        return (failed / total if total else 0.0), int(total)

    def _rate(self, name: str, window: float, per: float) -> tuple[float, int]:
        reading = self.metrics.window(name, window)
        return reading.rate * per, int(reading.delta)

    def _latency(self, window: float, percentile: float) -> tuple[float, int]:
        reading = self.metrics.window("bastion_call_duration_seconds", window, self._call_labels())
        histogram = reading.histogram
        if histogram is None or not histogram.count:
            return 0.0, 0
        return histogram.percentile(percentile), histogram.count

    def _write_p99(self, window: float) -> tuple[float, int]:
        histogram = self.metrics.window("bastion_persistence_write_seconds", window).histogram
        if histogram is None or not histogram.count:
            return 0.0, 0
        return histogram.percentile(99), histogram.count

    def _peak(self, name: str, window: float) -> tuple[float, int]:
        family = self.metrics.family(name)
        return max((s.value for s in family.samples), default=0.0), len(family.samples)
