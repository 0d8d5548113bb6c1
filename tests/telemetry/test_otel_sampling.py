"""Message spans follow the provider's sampler as the SDK would, without its per-span cost."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
)

import bastion
from bastion._core import _carry
from bastion.resilience import error_scope
from bastion.resilience._carry import ERROR_CONTEXT_CARRIER
from bastion.telemetry import otel
from bastion.telemetry.otel._tracing import CARRIER


class Leaf(bastion.Actor):
    """Answers with the trace position it runs in."""

    def handle_call(self, message: Any) -> Any:
        context = trace.get_current_span().get_span_context()
        return context.trace_id, context.span_id, context.trace_flags.sampled


class Middle(bastion.Actor):
    """Calls the leaf; answers with its own trace position and the leaf's."""

    def __init__(self, leaf: bastion.ActorRef) -> None:
        self.leaf = leaf

    async def handle_call(self, message: Any) -> Any:
        context = trace.get_current_span().get_span_context()
        below = await self.leaf.call(message, timeout=1.0)
        return (context.trace_id, context.span_id, context.trace_flags.sampled), below


class Counting(Sampler):
    """A custom sampler: records what it is asked, answers ``decision``."""

    def __init__(self, decision: Decision, attributes: dict[str, Any] | None = None) -> None:
        self.decision = decision
        self.attributes = attributes
        self.asked: list[tuple[str, SpanKind | None, dict[str, Any]]] = []

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        self.asked.append((name, kind, dict(attributes or {})))
        return SamplingResult(self.decision, self.attributes)

    def get_description(self) -> str:
        return "Counting"


class Collect(SpanProcessor):
    """Keeps every span it is told about, sampled or not."""

    def __init__(self) -> None:
        self.started: list[Any] = []
        self.ended: list[ReadableSpan] = []

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        self.started.append(span)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


def _provider(sampler: Sampler, **kwargs: Any) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, **kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def no_start_span(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts ``Tracer.start_span`` calls (message spans must not go through it)."""
    calls: list[str] = []
    original = SdkTracer.start_span

    def counted(self: SdkTracer, name: str, *args: Any, **kwargs: Any) -> trace.Span:
        calls.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(SdkTracer, "start_span", counted)
    return calls


async def _chain(rt: bastion.Runtime) -> bastion.ActorRef:
    leaf = await rt.spawn(Leaf)
    return await rt.spawn(Middle, leaf)


async def test_an_unsampled_root_asks_the_sampler_once_and_its_children_follow(
    no_start_span: list[str],
) -> None:
    root = Counting(Decision.DROP)
    provider, exporter = _provider(ParentBased(root))
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        middle = await _chain(rt)
        answers = [await middle.call(i, timeout=1.0) for i in range(5)]
        handle.uninstrument()
    assert len(root.asked) == 5  # once per root message, never for the leaf's messages
    assert exporter.get_finished_spans() == ()
    for (middle_trace, middle_span, middle_sampled), (leaf_trace, leaf_span, sampled) in answers:
        assert leaf_trace == middle_trace != 0  # the leaf runs in its caller's trace...
        assert leaf_span == middle_span != 0  # ... under the same unsampled span
        assert not middle_sampled
        assert not sampled
    assert len({middle_trace for (middle_trace, _, _), _ in answers}) == 5  # a trace per root
    assert no_start_span == []  # no SDK span, recording or not, was made for a message


async def test_ratio_sampling_keeps_or_drops_whole_traces(no_start_span: list[str]) -> None:
    random.seed(9)
    sampler = ParentBased(TraceIdRatioBased(0.5))
    provider, exporter = _provider(sampler)
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        middle = await _chain(rt)
        answers = [await middle.call(i, timeout=1.0) for i in range(40)]
        handle.uninstrument()
    spans = exporter.get_finished_spans()
    middles = [s for s in spans if s.name == "call Middle"]
    leaves = [s for s in spans if s.name == "call Leaf"]
    assert 0 < len(middles) < 40
    assert len(leaves) == len(middles)
    by_id = {s.context.span_id: s for s in middles}
    bound = TraceIdRatioBased.get_bound_for_rate(0.5)
    for leaf in leaves:
        assert leaf.parent is not None
        parent = by_id[leaf.parent.span_id]
        assert parent.context.trace_id == leaf.context.trace_id
        assert parent.parent is None  # a root: no span was current in the test
    for (trace_id, _, sampled), _below in answers:
        assert sampled == (trace_id & TraceIdRatioBased.TRACE_ID_LIMIT < bound)
    assert no_start_span == []


def _remote(sampled: bool) -> NonRecordingSpan:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return NonRecordingSpan(SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=flags))


@pytest.mark.parametrize(
    ("sampler", "recorded"),
    [(ALWAYS_ON, True), (ParentBased(ALWAYS_ON), False)],
    ids=["always_on_ignores_the_parent", "parent_based_follows_it"],
)
async def test_an_unsampled_remote_parent_is_followed_as_the_sampler_says(
    sampler: Sampler, recorded: bool
) -> None:
    provider, exporter = _provider(sampler)
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        middle = await _chain(rt)
        with trace.use_span(_remote(sampled=False)):
            (
                (mid_trace, mid_span, mid_sampled),
                (leaf_trace, leaf_span, leaf_sampled),
            ) = await middle.call("x", timeout=1.0)
        handle.uninstrument()
    assert mid_trace == leaf_trace == 0xABC
    assert mid_sampled is leaf_sampled is recorded
    spans = {s.name: s for s in exporter.get_finished_spans()}
    if not recorded:
        assert spans == {}
        assert mid_span == leaf_span == 0xDEF  # nothing created: the parent stays current
        return
    assert spans["call Middle"].parent is not None
    assert spans["call Middle"].parent.span_id == 0xDEF
    assert spans["call Middle"].parent.is_remote
    assert spans["call Leaf"].parent is not None
    assert spans["call Leaf"].parent.span_id == spans["call Middle"].context.span_id


async def test_a_custom_sampler_is_asked_like_the_sdk_asks_it_and_may_record_only() -> None:
    sampler = Counting(Decision.RECORD_ONLY, {"sampler.note": "kept"})
    collect = Collect()
    provider, exporter = _provider(sampler)
    provider.add_span_processor(collect)
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        leaf = await rt.spawn(Leaf, name="leaf")
        with error_scope("lookup", correlation_id="req-9"):
            await leaf.call("x", timeout=1.0)
        handle.uninstrument()
    ((name, kind, attributes),) = sampler.asked
    assert (name, kind) == ("call Leaf", SpanKind.SERVER)
    assert attributes["bastion.actor"] == "Leaf(leaf)"
    assert attributes["bastion.correlation_id"] == "req-9"
    assert exporter.get_finished_spans() == ()  # recorded, not sampled: not exported
    (started,) = collect.started
    (ended,) = collect.ended
    assert started is ended
    assert not ended.context.trace_flags.sampled
    assert dict(ended.attributes or {}) == {"sampler.note": "kept"}  # the sampler's choice


class _Raises(SpanProcessor):
    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        raise RuntimeError("processor bug on start")

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("processor bug on end")


async def test_a_processor_that_raises_never_reaches_the_actor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(_Raises())
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        leaf = await rt.spawn(Leaf)
        with caplog.at_level(logging.ERROR, logger="bastion.telemetry.otel"):
            answers = [await leaf.call(i, timeout=1.0) for i in range(3)]
        assert leaf.is_alive
        recorder = CARRIER.tracing[rt]
        handle.uninstrument()
    assert len(answers) == 3
    assert getattr(recorder, "processor_errors", None) == 6  # 3 starts, 3 ends
    (record,) = caplog.records  # logged once, then counted
    assert record.exc_info is not None
    assert "processor bug on start" in str(record.exc_info[1])


async def test_a_handler_annotates_its_message_span() -> None:
    provider, exporter = _provider(ALWAYS_ON)
    other = SpanContext(0x123, 0x456, is_remote=False, trace_flags=TraceFlags(1))
    kept: list[Any] = []  # the live span (also the exported ReadableSpan)

    class Annotating(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            span = trace.get_current_span()
            span.set_attribute("app.items", 3)
            span.set_attributes({"app.user": "ada"})
            span.add_event("cache.miss", {"key": "k1"})
            span.add_link(other, {"why": "batch"})
            span.update_name("lookup")
            span.set_status(StatusCode.OK)
            span.set_status(StatusCode.ERROR)  # ignored: OK is final, as in the SDK
            kept.append(span)
            return span.is_recording()

    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        ref = await rt.spawn(Annotating, name="a")
        assert await ref.call("go", timeout=1.0) is True
        handle.uninstrument()
    (span,) = exporter.get_finished_spans()
    live = kept[0]
    assert not live.is_recording()
    live.set_attribute("late", 1)  # after the end: ignored
    live.end()  # a second end: ignored, not exported twice
    assert span is live  # what the handler annotated is what was exported
    assert len(exporter.get_finished_spans()) == 1
    assert span.name == "lookup"
    assert span.status.status_code is StatusCode.OK
    assert dict(span.attributes or {}) == {
        "messaging.system": "bastion",
        "bastion.actor": "Annotating(a)",
        "app.items": 3,
        "app.user": "ada",
    }
    ((event_name, event_attributes),) = [(e.name, dict(e.attributes or {})) for e in span.events]
    assert (event_name, event_attributes) == ("cache.miss", {"key": "k1"})
    (link,) = span.links
    assert link.context.span_id == 0x456
    as_json = json.loads(span.to_json())
    assert as_json["name"] == "lookup"
    assert as_json["attributes"]["bastion.actor"] == "Annotating(a)"
    assert as_json["parent_id"] is None


async def test_span_limits_bound_a_message_span_s_attributes() -> None:
    provider, exporter = _provider(ALWAYS_ON, span_limits=SpanLimits(max_span_attributes=3))
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        leaf = await rt.spawn(Leaf)
        with error_scope("limited", correlation_id="req-L"):
            await leaf.call("x", timeout=1.0)
        handle.uninstrument()
    (span,) = exporter.get_finished_spans()
    assert len(span.attributes or {}) == 3
    assert span.dropped_attributes == 2


class _Lazy(InMemorySpanExporter):
    """Notes which SDK fields were already built when a span reached the exporter."""

    def __init__(self) -> None:
        super().__init__()
        self.built: list[set[str]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> Any:
        for span in spans:
            self.built.append({"_attributes", "_context", "_name", "_parent"} & set(vars(span)))
        return super().export(spans)


async def test_a_batched_span_is_built_in_the_export_thread_not_on_the_loop() -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = _Lazy()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        leaf = await rt.spawn(Leaf)
        await leaf.call("x", timeout=1.0)
        handle.uninstrument()
    assert provider.force_flush(timeout_millis=5000)
    provider.shutdown()
    assert exporter.built == [set()]
    (span,) = exporter.get_finished_spans()
    assert span.name == "call Leaf"
    assert span.kind is SpanKind.SERVER


async def test_the_error_carrier_steps_aside_while_any_runtime_is_traced() -> None:
    provider, exporter = _provider(ALWAYS_ON)
    assert _carry.carriers() == (ERROR_CONTEXT_CARRIER,)
    async with bastion.open_runtime() as one, bastion.open_runtime() as two:
        first = otel.instrument(one, tracer_provider=provider)
        second = otel.instrument(two, tracer_provider=provider)
        assert _carry.carriers() == (CARRIER,)
        leaf_one = await one.spawn(Leaf)
        leaf_two = await two.spawn(Leaf)
        first.uninstrument()
        assert _carry.carriers() == (CARRIER,)
        with error_scope("still", correlation_id="req-S"):
            await leaf_one.call("untraced", timeout=1.0)
            await leaf_two.call("traced", timeout=1.0)
        second.uninstrument()
        assert _carry.carriers() == (ERROR_CONTEXT_CARRIER,)
        # after uninstrument nothing of the last trace stays current in the actor
        trace_id, span_id, _ = await leaf_two.call("after", timeout=1.0)
    assert (trace_id, span_id) == (0, 0)
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["bastion.correlation_id"] == "req-S"


class _ApiOnlyTracer(trace.Tracer):
    """A tracer that is not the SDK's (as a vendor's or a wrapper would be)."""

    def __init__(self, inner: trace.Tracer) -> None:
        self.inner = inner

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self.inner.start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.start_as_current_span(*args, **kwargs)


class _ApiOnlyProvider(trace.TracerProvider):
    def __init__(self, inner: TracerProvider) -> None:
        self.inner = inner

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _ApiOnlyTracer(self.inner.get_tracer(*args, **kwargs))


async def test_a_provider_that_is_not_the_sdk_s_gets_spans_through_the_api() -> None:
    provider, exporter = _provider(ALWAYS_ON)
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=_ApiOnlyProvider(provider))
        middle = await _chain(rt)
        (mid_trace, mid_span, _), (leaf_trace, _, _) = await middle.call("x", timeout=1.0)
        handle.uninstrument()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["call Middle"].context.span_id == mid_span
    assert spans["call Leaf"].parent is not None
    assert spans["call Leaf"].parent.span_id == mid_span
    assert mid_trace == leaf_trace
