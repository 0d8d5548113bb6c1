"""OTLP/HTTP on the wire, an endpoint that is down, an exporter that raises."""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import bastion
from bastion.resilience import error_scope
from bastion.telemetry import otel


class _Receiver(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: decodes each POST with opentelemetry-proto."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.spans: list[ProtoSpan] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            self.server.paths.append(self.path)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    self.server.spans.extend(scope_spans.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def otlp_receiver() -> Iterator[_Receiver]:
    """A receiver on 127.0.0.1 served by one thread, stopped and joined on exit."""
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5.0)


class Leaf(bastion.Actor):
    def handle_call(self, message: Any) -> Any:
        return message


class Front(bastion.Actor):
    def __init__(self, leaf: bastion.ActorRef) -> None:
        self.leaf = leaf

    async def handle_call(self, message: Any) -> Any:
        return await self.leaf.call(message, timeout=1.0)


async def test_spans_cross_the_wire_over_otlp_http_with_their_parent_links() -> None:
    with otlp_receiver() as receiver:
        host, port = receiver.server_address[:2]
        exporter = OTLPSpanExporter(endpoint=f"http://{host!s}:{port}/v1/traces", timeout=5)
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("test")
        async with bastion.open_runtime() as rt:
            handle = otel.instrument(rt, tracer_provider=provider)
            leaf = await rt.spawn(Leaf)
            front = await rt.spawn(Front, leaf)
            with (
                tracer.start_as_current_span("request"),
                error_scope("order", correlation_id="req-wire"),
            ):
                assert await front.call("ping", timeout=5.0) == "ping"
            handle.uninstrument()
        provider.shutdown()
    assert set(receiver.paths) == {"/v1/traces"}
    named = {span.name: span for span in receiver.spans}
    assert set(named) == {"request", "call Front", "call Leaf"}
    assert named["call Front"].parent_span_id == named["request"].span_id
    assert named["call Leaf"].parent_span_id == named["call Front"].span_id
    assert len({span.trace_id for span in receiver.spans}) == 1
    assert named["call Leaf"].kind == ProtoSpan.SpanKind.SPAN_KIND_SERVER
    attributes = {a.key: a.value for a in named["call Leaf"].attributes}
    assert attributes["bastion.correlation_id"].string_value == "req-wire"


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on exit: nothing listens there


class _FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_endpoint_that_is_down_backs_off_counts_drops_and_the_runtime_runs_on() -> None:
    clock = _FakeClock()
    dead = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{_dead_port()}/v1/traces", timeout=0.2)
    exporter = otel.BackoffSpanExporter(dead, initial_backoff=2.0, max_backoff=8.0, clock=clock)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        leaf = await rt.spawn(Leaf)
        answers = [await leaf.call(i, timeout=5.0) for i in range(20)]
        stats = exporter.statistics()
        clock.now += 2.5  # past the first back-off: the next span is tried (and fails) again
        assert await leaf.call("again", timeout=5.0) == "again"
        later = exporter.statistics()
        handle.uninstrument()
    provider.shutdown()
    assert answers == list(range(20))
    assert stats.failed_exports == 1
    assert stats.dropped_spans == 20
    assert stats.exported_spans == 0
    assert stats.backing_off
    assert stats.backoff_seconds == 2.0
    assert later.failed_exports == 2
    assert later.dropped_spans == 21
    assert later.backoff_seconds == 4.0


class _Raising(SpanExporter):
    def __init__(self) -> None:
        self.calls = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        raise RuntimeError("exporter bug")


async def test_an_exporter_that_raises_is_isolated_counted_and_never_crashes_an_actor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = _Raising()
    exporter = otel.BackoffSpanExporter(inner, initial_backoff=1.0, clock=_FakeClock())
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with bastion.open_runtime() as rt:
        handle = otel.instrument(rt, tracer_provider=provider)
        leaf = await rt.spawn(Leaf)
        with caplog.at_level(logging.ERROR, logger="bastion.telemetry.otel"):
            assert [await leaf.call(i, timeout=1.0) for i in range(3)] == [0, 1, 2]
        assert leaf.is_alive
        handle.uninstrument()
    provider.shutdown()
    assert inner.calls == 1
    assert exporter.statistics().dropped_spans == 3
    assert "exporter bug" in caplog.text


def test_backoff_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="initial_backoff"):
        otel.BackoffSpanExporter(_Raising(), initial_backoff=0.0)
    with pytest.raises(ValueError, match="initial_backoff"):
        otel.BackoffSpanExporter(_Raising(), initial_backoff=5.0, max_backoff=1.0)
