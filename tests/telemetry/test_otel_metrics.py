"""Bastion's metrics read through the OpenTelemetry Meter API (observable instruments)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData

import bastion
from bastion.telemetry import otel


class Echo(bastion.Actor):
    def handle_call(self, message: Any) -> Any:
        if message == "invalid":
            raise bastion.ValidationError("bad", code="bad")
        return message


def _points(data: MetricsData | None) -> dict[str, list[Any]]:
    assert data is not None
    out: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out


async def test_every_bastion_metric_is_an_observable_otel_instrument() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, meter_provider=provider, traces=False)
        assert handle.carrier is None
        ref = await rt.spawn(Echo)
        for i in range(5):
            await ref.call(i, timeout=1.0)
        with pytest.raises(bastion.ValidationError):
            await ref.call("invalid", timeout=1.0)
        points = _points(reader.get_metrics_data())
        families = {f.name: f for f in rt.metrics.collect()}
        handle.uninstrument()
    provider.shutdown()
    calls = {
        (p.attributes["actor_class"], p.attributes["outcome"]): p.value
        for p in points["bastion_calls"]
    }
    assert calls[("Echo", "ok")] == 5
    assert calls[("Echo", "expected_error")] == 1
    (count,) = points["bastion_call_duration_seconds_count"]
    assert count.value == 6
    quantiles = {p.attributes["quantile"] for p in points["bastion_call_duration_seconds_quantile"]}
    assert quantiles == set(otel.QUANTILES)
    (actors,) = points["bastion_actors"]
    assert actors.value == 1
    expected = {
        name
        for name, family in families.items()
        if family.samples and family.kind is not bastion.telemetry.MetricKind.HISTOGRAM
    }
    assert expected <= set(points)


async def test_a_reader_on_another_thread_gets_the_snapshot_taken_on_the_loop() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, meter_provider=provider, traces=False)
        ref = await rt.spawn(Echo)
        await ref.call("x", timeout=1.0)
        points = _points(await asyncio.to_thread(reader.get_metrics_data))
        handle.uninstrument()
    provider.shutdown()
    (ok,) = [p for p in points["bastion_calls"] if p.attributes["outcome"] == "ok"]
    assert ok.value == 1
