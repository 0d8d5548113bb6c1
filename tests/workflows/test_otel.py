"""OpenTelemetry: a span per workflow run with a child span per step attempt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

import bastion
from bastion.persistence import MemoryStore
from bastion.telemetry import otel
from tests.workflows.conftest import engine_on


@pytest.fixture
def exporter() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    yield provider, spans
    provider.shutdown()


def attr(span: ReadableSpan, key: str) -> object:
    assert span.attributes is not None
    return span.attributes[key]


@bastion.step(max_attempts=2, backoff=bastion.Backoff(initial=1.0, jitter=0.0))
async def lookup(x: int) -> int:
    if x < 0:
        raise ConnectionError("lookup is down")
    return x * 2


@bastion.workflow(name="tests.otel.traced")
async def traced(ctx: bastion.WorkflowContext, x: int) -> int:
    a = await lookup(x)
    return await ctx.step(lookup, a)


async def test_a_workflow_run_is_a_span_with_a_child_per_step(
    rt: bastion.Runtime, exporter: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, spans = exporter
    handle = otel.instrument(rt, tracer_provider=provider)
    try:
        async with engine_on(rt, MemoryStore()) as engine:
            assert await (await engine.start(traced, 1, workflow_id="t1")).result(timeout=5) == 4
            failing = await engine.start(traced, -1, workflow_id="t2")
            with pytest.raises(bastion.workflows.WorkflowFailed):
                await failing.result(timeout=50.0)
    finally:
        handle.uninstrument()
    finished = [s for s in spans.get_finished_spans() if s.name.split()[0] in {"workflow", "step"}]
    runs = {attr(s, "bastion.workflow_id"): s for s in finished if s.name.startswith("workflow")}
    assert set(runs) == {"t1", "t2"}
    assert runs["t1"].name == "workflow tests.otel.traced"
    steps = [s for s in finished if s.name == "step lookup"]
    ok = [s for s in steps if attr(s, "bastion.workflow_id") == "t1"]
    assert [attr(s, "bastion.step_no") for s in ok] == [0, 1]
    assert all(s.parent is not None and s.parent.span_id == runs["t1"].context.span_id for s in ok)
    failed = [s for s in steps if attr(s, "bastion.workflow_id") == "t2"]
    assert [s.status.status_code for s in failed] == [StatusCode.ERROR, StatusCode.ERROR]
