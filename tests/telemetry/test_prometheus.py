"""Prometheus export: the collector, the ASGI app, the stand-alone server over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import bastion
from bastion.telemetry import MetricKind
from bastion.telemetry.prometheus import PrometheusCollector, metrics_app, serve_metrics


class Echo(bastion.Actor):
    async def handle_call(self, message: Any) -> Any:
        if isinstance(message, float):
            await self.runtime.clock.sleep(message)  # slow work, on the runtime clock
        return message


async def _traffic(rt: bastion.Runtime) -> bastion.ActorRef:
    ref = await rt.spawn(Echo, name="echo")
    for _ in range(3):
        await ref.call("hi")
    await ref.call(0.2)
    return ref


async def test_the_asgi_app_exposes_counters_gauges_and_histograms(rt: bastion.Runtime) -> None:
    ref = await _traffic(rt)
    transport = httpx.ASGITransport(app=metrics_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/metrics", timeout=5.0)
    assert response.status_code == 200
    text = response.text
    assert 'bastion_calls_total{actor_class="Echo",cohort="",outcome="ok"} 4.0' in text
    assert "# TYPE bastion_call_duration_seconds histogram" in text
    series = 'bastion_call_duration_seconds_{}{{actor_class="Echo",cohort=""{}}} {}'
    assert series.format("bucket", ',le="0.1"', "3.0") in text  # three instant calls
    assert series.format("bucket", ',le="0.25"', "4.0") in text  # and one of 0.2 s
    assert series.format("count", "", "4.0") in text
    assert "bastion_actors 1.0" in text
    assert "bastion_exporter_scrape_errors_total 0.0" in text
    await ref.stop()


@pytest.mark.bastion(real_time=True)
async def test_the_stand_alone_server_serves_metrics_over_http(rt: bastion.Runtime) -> None:
    ref = await _traffic(rt)
    async with serve_metrics(rt, port=0) as server:
        assert server.url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            response = await client.get(server.url, timeout=5.0)
            again = await client.get(server.url, timeout=5.0)
    assert response.status_code == 200
    assert 'bastion_calls_total{actor_class="Echo",cohort="",outcome="ok"} 4.0' in response.text
    assert "bastion_exporter_scrapes_total 2.0" in again.text
    await ref.stop()


async def test_a_failing_metric_is_isolated_and_counted(rt: bastion.Runtime) -> None:
    def broken() -> Any:
        raise RuntimeError("the callback broke")

    rt.metrics.callback("app_broken", MetricKind.GAUGE, "Always fails.", broken)
    ref = await _traffic(rt)
    transport = httpx.ASGITransport(app=metrics_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/metrics", timeout=5.0)
    assert response.status_code == 200
    assert "bastion_exporter_scrape_errors_total 1.0" in response.text
    assert await ref.call("still fine") == "still fine"  # the runtime never noticed
    await ref.stop()


def test_a_scrape_that_cannot_reach_the_loop_is_counted() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    metrics = bastion.telemetry.MetricsRegistry(lambda: 0.0)
    collector = PrometheusCollector(metrics, loop, scrape_timeout=1.0)
    names = [family.name for family in collector.collect()]
    assert collector.errors == 1
    assert names == [
        "bastion_exporter_scrapes",
        "bastion_exporter_scrape_errors",
        "bastion_exporter_scrape_duration_seconds",
    ]


async def test_bad_server_arguments(rt: bastion.Runtime) -> None:
    with pytest.raises(ValueError, match="port"):
        serve_metrics(rt, port=70000)
    with pytest.raises(ValueError, match="scrape_timeout"):
        PrometheusCollector(rt.metrics, rt.loop, scrape_timeout=0)
