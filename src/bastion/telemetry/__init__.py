"""Telemetry: the event bus (``emit``/``attach``/``detach``/``span``) and metrics.

Every runtime owns a :class:`MetricsRegistry` as ``rt.metrics`` (turn the runtime's
self-measurement off with ``open_runtime(metrics=False)``). Exporters read it through
``rt.metrics.collect() -> tuple[MetricFamily, ...]``; see ``docs/observability.md``.
"""

from __future__ import annotations

from bastion._core._events import (
    EventBusStatistics,
    EventName,
    Handler,
    attach,
    attached_handlers,
    detach,
    emit,
    span,
    statistics,
)
from bastion._core._histogram import HistogramSnapshot, LogLinearHistogram
from bastion._core._meters import cohort, current_cohort, set_cohort
from bastion._core._metrics import (
    Counter,
    Gauge,
    Histogram,
    MetricFamily,
    MetricKind,
    MetricsRegistry,
    Sample,
    UnknownMetric,
)
from bastion._core._windows import WindowReading
from bastion._public import publish
from bastion.telemetry._health import (
    DEFAULT_SLOS,
    SIGNALS,
    SLO,
    HealthMonitor,
    HealthReport,
    HealthStatus,
    SignalReading,
)
from bastion.telemetry._logging import log_events, stop_logging_events

__all__ = [
    "attach",
    "attached_handlers",
    "cohort",
    "Counter",
    "current_cohort",
    "DEFAULT_SLOS",
    "detach",
    "emit",
    "EventBusStatistics",
    "EventName",
    "Gauge",
    "Handler",
    "HealthMonitor",
    "HealthReport",
    "HealthStatus",
    "Histogram",
    "HistogramSnapshot",
    "log_events",
    "LogLinearHistogram",
    "MetricFamily",
    "MetricKind",
    "MetricsRegistry",
    "Sample",
    "set_cohort",
    "SignalReading",
    "SIGNALS",
    "SLO",
    "span",
    "statistics",
    "stop_logging_events",
    "UnknownMetric",
    "WindowReading",
]

publish(globals(), "bastion.telemetry")
log_events()  # failure records on stdlib logging by default; stop_logging_events() to opt out
