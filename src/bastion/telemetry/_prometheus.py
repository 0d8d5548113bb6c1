"""Prometheus export (extra ``bastion[prometheus]``): a collector, a server, an ASGI app.

:class:`PrometheusCollector` turns ``rt.metrics.collect()`` into Prometheus families at
scrape time: counters gain ``_total``, log-linear histograms are exposed as classic
histograms over fixed ``le`` buckets (seconds, or counts for unit ``1``). The registry
belongs to the runtime's event loop, so a scrape from another thread (the stand-alone
server) asks the loop for the snapshot and waits at most ``scrape_timeout``. A scrape
that fails is isolated: it is counted in ``bastion_exporter_scrape_errors_total`` and
answered with the exporter's own metrics; nothing propagates to an actor.

:func:`serve_metrics` starts ``/metrics`` on 127.0.0.1 (never 0.0.0.0 by default) and
:func:`metrics_app` returns an ASGI app to mount in an existing server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, make_asgi_app, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from bastion._core._metrics import MetricFamily, MetricKind, MetricsRegistry
from bastion._core._runtime import Runtime

__all__ = [
    "COUNT_BUCKETS",
    "SECONDS_BUCKETS",
    "MetricsServer",
    "PrometheusCollector",
    "metrics_app",
    "prometheus_registry",
    "serve_metrics",
]

_log = logging.getLogger("bastion.telemetry.prometheus")

#: ``le`` bounds for histograms in seconds: 100 µs to 60 s.
SECONDS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)  # fmt: skip
#: ``le`` bounds for histograms of counts (unit ``1``, e.g. group sizes).
COUNT_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)


class PrometheusCollector(Collector):
    """Exposes every metric of one runtime; register it in a ``CollectorRegistry``."""

    def __init__(
        self,
        metrics: MetricsRegistry,
        loop: asyncio.AbstractEventLoop,
        *,
        scrape_timeout: float = 5.0,
    ) -> None:
        if not 0 < scrape_timeout < float("inf"):
            raise ValueError(f"scrape_timeout must be finite and > 0, got {scrape_timeout!r}")
        self._metrics = metrics
        self._loop = loop
        self._timeout = scrape_timeout
        self.scrapes = 0
        self.errors = 0
        self.last_duration = 0.0

    def collect(self) -> Iterator[Any]:
        """Prometheus families of the runtime's metrics, then the exporter's own."""
        started = time.perf_counter()
        self.scrapes += 1
        families: tuple[MetricFamily, ...] = ()
        try:
            families = self._snapshot()
            converted = [_convert(f) for f in families]
        except Exception as exc:  # noqa: BLE001 -- a failing scrape is counted and logged, never raised into the runtime
            self.errors += 1
            _log.warning("metrics scrape failed: %r", exc)
            converted = []
        yield from converted
        self.last_duration = time.perf_counter() - started
        yield from self._own()

    def _snapshot(self) -> tuple[MetricFamily, ...]:
        if _on_loop_thread(self._loop):
            return self._metrics.collect()
        result: concurrent.futures.Future[tuple[MetricFamily, ...]] = concurrent.futures.Future()

        def take() -> None:
            if result.set_running_or_notify_cancel():
                try:
                    result.set_result(self._metrics.collect())
                except Exception as exc:  # noqa: BLE001 -- handed to the scraping thread, which counts it
                    result.set_exception(exc)

        self._loop.call_soon_threadsafe(take)
        try:
            return result.result(timeout=self._timeout)
        finally:
            result.cancel()

    def _own(self) -> Iterator[Any]:
        scrapes = CounterMetricFamily(
            "bastion_exporter_scrapes", "Prometheus scrapes of this runtime's metrics."
        )
        scrapes.add_metric([], self.scrapes)
        errors = CounterMetricFamily(
            "bastion_exporter_scrape_errors",
            "Scrapes that failed (the runtime kept running; see the bastion log).",
        )
        errors.add_metric([], self.errors)
        duration = GaugeMetricFamily(
            "bastion_exporter_scrape_duration_seconds", "How long the last scrape took."
        )
        duration.add_metric([], self.last_duration)
        return iter((scrapes, errors, duration))


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _convert(family: MetricFamily) -> Any:
    labels = list(family.label_names)
    if family.kind is MetricKind.COUNTER:
        counter = CounterMetricFamily(family.name, family.description, labels=labels)
        for sample in family.samples:
            counter.add_metric(list(sample.label_values), sample.value)
        return counter
    if family.kind is MetricKind.GAUGE:
        gauge = GaugeMetricFamily(family.name, family.description, labels=labels)
        for sample in family.samples:
            gauge.add_metric(list(sample.label_values), sample.value)
        return gauge
    histogram = HistogramMetricFamily(family.name, family.description, labels=labels)
    bounds = SECONDS_BUCKETS if family.unit == "s" else COUNT_BUCKETS
    for sample in family.samples:
        snap = sample.histogram
        if snap is None:
            continue
        cumulative = snap.cumulative(bounds)
        buckets = [(_le(b), float(c)) for b, c in zip(bounds, cumulative, strict=True)]
        buckets.append(("+Inf", float(snap.count)))
        histogram.add_metric(list(sample.label_values), buckets, snap.sum)
    return histogram


def _le(bound: float) -> str:
    return repr(float(bound))


def prometheus_registry(runtime: Runtime, *, scrape_timeout: float = 5.0) -> CollectorRegistry:
    """A fresh ``CollectorRegistry`` holding a :class:`PrometheusCollector` of ``runtime``."""
    registry = CollectorRegistry(auto_describe=False)
    collector = PrometheusCollector(runtime.metrics, runtime.loop, scrape_timeout=scrape_timeout)
    registry.register(collector)
    return registry


def metrics_app(runtime: Runtime) -> Callable[..., Any]:
    """An ASGI app answering ``GET`` with ``runtime``'s metrics (mount it at ``/metrics``)."""
    return make_asgi_app(prometheus_registry(runtime))


class MetricsServer:
    """A running ``/metrics`` server; ``url`` to scrape, ``close()`` to stop it."""

    def __init__(self, runtime: Runtime, host: str, port: int, scrape_timeout: float) -> None:
        self.host = host
        self._runtime = runtime
        self._server, self._thread = start_http_server(
            port, addr=host, registry=prometheus_registry(runtime, scrape_timeout=scrape_timeout)
        )
        self.port: int = self._server.server_port
        self._lock = threading.Lock()
        self._closed = False

    @property
    def url(self) -> str:
        """``http://host:port/metrics``."""
        return f"http://{self.host}:{self.port}/metrics"

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving and join the server thread (blocking; at most ``timeout`` s)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout)

    async def aclose(self, timeout: float = 5.0) -> None:
        """``close()`` off the event loop (a scrape in progress may need the loop)."""
        await self._runtime.tasks.run_blocking(self.close, timeout, timeout=timeout + 1.0)

    async def __aenter__(self) -> MetricsServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def serve_metrics(
    runtime: Runtime, port: int = 0, *, host: str = "127.0.0.1", scrape_timeout: float = 5.0
) -> MetricsServer:
    """Serve ``runtime``'s metrics at ``http://host:port/metrics`` from a server thread.

    ``port=0`` picks a free port (read ``server.port``). Binds 127.0.0.1 unless told
    otherwise. Use ``async with serve_metrics(rt) as server:`` or ``await server.aclose()``.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in 0..65535, got {port!r}")
    return MetricsServer(runtime, host, port, scrape_timeout)
