"""OpenTelemetry traces: a span per handled message, parented through the message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import bastion
import bastion.testing
from bastion._core._clock import current_clock
from bastion.resilience import error_scope
from bastion.telemetry import otel


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


class Leaf(bastion.Actor):
    def handle_call(self, message: Any) -> Any:
        if message == "crash":
            raise KeyError("leaf crashed")
        if message == "invalid":
            raise bastion.ValidationError("bad input", code="bad")
        return f"leaf:{message}"

    def handle_cast(self, message: Any) -> None:
        return None


class Middle(bastion.Actor):
    """Calls the leaf from inside its own handler."""

    def __init__(self, leaf: bastion.ActorRef) -> None:
        self.leaf = leaf

    async def handle_call(self, message: Any) -> Any:
        return await self.leaf.call(message, timeout=1.0)


def _by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in finished:
        out.setdefault(span.name, []).append(span)
    return out


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_trace_shows_caller_then_actor_then_the_actor_it_calls(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        leaf = await rt.spawn(Leaf)
        middle = await rt.spawn(Middle, leaf)
        with (
            tracer.start_as_current_span("request") as root,
            error_scope("checkout", correlation_id="req-42"),
        ):
            assert await middle.call("x", timeout=1.0) == "leaf:x"
        handle.uninstrument()
    named = _by_name(exporter.get_finished_spans())
    (mid,) = named["call Middle"]
    (lf,) = named["call Leaf"]
    (req,) = named["request"]
    assert _parent_id(mid) == root.get_span_context().span_id
    assert _parent_id(lf) == mid.context.span_id
    assert {s.context.trace_id for s in (mid, lf, req)} == {req.context.trace_id}
    assert mid.kind is SpanKind.SERVER
    for span in (mid, lf):
        assert span.attributes is not None
        assert span.attributes["bastion.correlation_id"] == "req-42"
        assert span.attributes["bastion.operation"] == "checkout"
        assert isinstance(span.attributes["bastion.operation_id"], int)
        assert span.attributes["messaging.system"] == "bastion"


async def test_spans_cross_a_supervisor_restart_and_mark_the_crash(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        spec = bastion.ChildSpec(id="leaf", actor=Leaf, name="leaf")
        await rt.start_supervisor([spec], intensity=bastion.RestartIntensity(5, 60.0))
        leaf = rt.ref("leaf")
        with tracer.start_as_current_span("request") as root:
            with pytest.raises(bastion.ActorCrashed):
                await leaf.call("crash", timeout=1.0)
            await bastion.testing.wait_for(lambda: leaf.is_alive)
            with pytest.raises(bastion.ValidationError):
                await leaf.call("invalid", timeout=1.0)
            assert await leaf.call("again", timeout=1.0) == "leaf:again"
        handle.uninstrument()
    calls = _by_name(exporter.get_finished_spans())["call Leaf"]
    assert [_parent_id(s) for s in calls] == [root.get_span_context().span_id] * 3
    crashed, expected, ok = calls
    assert crashed.status.status_code is StatusCode.ERROR
    assert crashed.attributes is not None
    assert crashed.attributes["bastion.outcome"] == "crash"
    assert [e.name for e in crashed.events] == ["exception"]
    assert expected.status.status_code is StatusCode.UNSET
    assert expected.attributes is not None
    assert expected.attributes["bastion.outcome"] == "expected_error"
    assert ok.status.status_code is StatusCode.UNSET


async def test_casts_are_consumer_spans_and_nothing_is_traced_when_off(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans
    async with bastion.open_runtime() as rt:
        leaf = await rt.spawn(Leaf)
        await leaf.cast("before")
        await rt.wait_idle()
        assert exporter.get_finished_spans() == ()
        handle = otel.instrument(rt, tracer_provider=provider)
        with pytest.raises(ValueError, match="instrumented already"):
            otel.instrument(rt, tracer_provider=provider)
        await leaf.cast("during")
        await rt.wait_idle()
        handle.uninstrument()
        await leaf.cast("after")
        await rt.wait_idle()
    (cast,) = exporter.get_finished_spans()
    assert cast.name == "cast Leaf"
    assert cast.kind is SpanKind.CONSUMER
    assert cast.parent is None  # no span was current in the sender: a root span


def test_instrument_rejects_what_is_not_a_runtime() -> None:
    with pytest.raises(TypeError, match="Runtime"):
        otel.instrument("runtime")  # type: ignore[arg-type]


async def test_a_span_opened_inside_a_handler_is_a_child_of_the_message_span(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans

    class Inner(bastion.Actor):
        async def handle_call(self, message: Any) -> Any:
            with provider.get_tracer("app").start_as_current_span("db.query"):
                await current_clock().sleep(0.01)
            return trace.get_current_span().get_span_context().span_id

    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        ref = await rt.spawn(Inner)
        current_in_handler = await ref.call("go", timeout=1.0)
        handle.uninstrument()
    named = _by_name(exporter.get_finished_spans())
    (msg,) = named["call Inner"]
    (query,) = named["db.query"]
    assert current_in_handler == msg.context.span_id
    assert _parent_id(query) == msg.context.span_id


async def test_messages_queued_before_instrument_keep_their_error_context(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    from bastion.resilience import current_context

    provider, exporter = spans
    gate = asyncio.Event()

    class Gated(bastion.Actor):
        def __init__(self) -> None:
            self.seen: list[str | None] = []

        async def handle_call(self, message: Any) -> Any:
            if message == "block":
                await gate.wait()
            return self.seen

        def handle_cast(self, message: Any) -> None:
            ctx = current_context()
            self.seen.append(None if ctx is None else ctx.correlation_id)

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Gated)
        blocked = asyncio.ensure_future(ref.call("block", timeout=5.0))
        await bastion.testing.wait_for(lambda: ref.statistics().mailbox_depth == 0)
        with error_scope("queued", correlation_id="req-QUEUED"):
            await ref.cast("before")  # captured by the error-context carrier alone
        handle = otel.instrument(rt, tracer_provider=provider)
        with error_scope("later", correlation_id="req-LATER"):
            await ref.cast("after")  # captured by both carriers
        gate.set()
        await blocked
        assert await ref.call("seen", timeout=1.0) == ["req-QUEUED", "req-LATER"]
        handle.uninstrument()
    casts = [s for s in exporter.get_finished_spans() if s.name == "cast Gated"]
    assert len(casts) == 2
    assert casts[0].parent is None  # queued before instrument: a root span


async def test_a_continuation_is_a_child_of_the_handler_that_scheduled_it(
    spans: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = spans

    class Continues(bastion.Actor):
        def handle_cast(self, message: Any) -> None:
            self.continue_with("rest")

        def handle_continue(self, message: Any) -> None:
            return None

    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        ref = await rt.spawn(Continues)
        await ref.cast("start")
        await rt.wait_idle()
        handle.uninstrument()
    named = _by_name(exporter.get_finished_spans())
    (cast,) = named["cast Continues"]
    (cont,) = named["continue Continues"]
    assert _parent_id(cont) == cast.context.span_id
