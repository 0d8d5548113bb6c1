"""Prometheus export of a runtime's metrics (install the extra: ``bastion[prometheus]``).

``serve_metrics(rt, port)`` serves ``/metrics`` on 127.0.0.1; ``metrics_app(rt)`` is an
ASGI app to mount; :class:`PrometheusCollector` plugs into your own
``CollectorRegistry``. See ``docs/observability.md``.
"""

from __future__ import annotations

try:
    import prometheus_client  # noqa: F401 -- fail here with the extra's name
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "bastion.telemetry.prometheus needs prometheus_client: pip install 'bastion[prometheus]'"
    ) from exc

from bastion._public import publish
from bastion.telemetry._prometheus import (
    COUNT_BUCKETS,
    SECONDS_BUCKETS,
    MetricsServer,
    PrometheusCollector,
    metrics_app,
    prometheus_registry,
    serve_metrics,
)

__all__ = [
    "COUNT_BUCKETS",
    "metrics_app",
    "MetricsServer",
    "prometheus_registry",
    "PrometheusCollector",
    "SECONDS_BUCKETS",
    "serve_metrics",
]

publish(globals(), "bastion.telemetry.prometheus")
