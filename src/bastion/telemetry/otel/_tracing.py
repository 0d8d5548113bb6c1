"""A span per handled message, parented to the sender's span carried in the message.

:class:`TraceCarrier` is a kernel carrier (``bastion._core._carry``) that carries both
the sender's error context and its OpenTelemetry context: while any runtime is
instrumented it stands in for the error-context carrier of :mod:`bastion.resilience`
(one carrier: one capture and one ``enter``/``leave`` per message instead of two and a
composite's loops), and gives the error carrier its place back when the last runtime is
uninstrumented. At send time it captures both values (two C-level ``ContextVar``
reads); in the actor's task it makes the error context current and asks the runtime's
tracing to start the message's span as a child of the carried context, current while
the handler runs; when the handler returns or raises the span ends. A call is a
``SERVER`` span, a cast, an info or a continuation a ``CONSUMER`` span.

With an SDK ``TracerProvider`` the spans come from a :class:`~._recorder.SpanRecorder`
(the SDK's semantics at a fraction of ``Tracer.start_span``'s cost); with any other
provider (the API's proxy or no-op provider, a vendor's) from ``tracer.start_span``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.trace import SpanKind

from bastion._core import _carry
from bastion._core._cell import CALL, Cell
from bastion._core._runtime import Runtime
from bastion.resilience import ErrorContext
from bastion.resilience._carry import ERROR_CONTEXT_CARRIER
from bastion.resilience._context import _current as _error_var
from bastion.resilience._context import attach_context
from bastion.telemetry.otel._context import (
    EMPTY,
    get_current,
    reset_current,
    restore,
    set_current,
)
from bastion.telemetry.otel._recorder import SpanRecorder, message_attributes, record_outcome
from bastion.telemetry.otel._spans import KINDS, MessageSpan

__all__ = ["TraceCarrier", "trace_runtime", "untrace_runtime"]

_error_get = _error_var.get
_error_set = _error_var.set


class _ApiSpanToken:
    """A span started through ``Tracer.start_span`` (a provider that is not the SDK's)."""

    __slots__ = ("restore", "span")

    def __init__(self, span: trace.Span, restore: Any) -> None:
        self.span = span
        self.restore = restore

    def leave(self, error: BaseException | None) -> None:
        if error is not None:
            record_outcome(self.span, error)
        restore(self.restore)
        self.span.end()


class ApiTracing:
    """Message spans through the OpenTelemetry API (any tracer)."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def start(
        self, parent_context: Context | None, error: ErrorContext | None, cell: Cell, kind: int
    ) -> _ApiSpanToken:
        """Start the span and make it current."""
        parent = parent_context if parent_context is not None else EMPTY
        span = self.tracer.start_span(
            f"{KINDS[kind]} {type(cell.actor).__name__}",
            context=parent,
            kind=SpanKind.SERVER if kind == CALL else SpanKind.CONSUMER,
            attributes=message_attributes(cell, error),
        )
        return _ApiSpanToken(span, set_current(trace.set_span_in_context(span, parent)))


Tracing = SpanRecorder | ApiTracing


def tracing_for(tracer: trace.Tracer) -> Tracing:
    """The SDK fast path for an SDK tracer with its defaults, else the API path."""
    if type(tracer) is SdkTracer and _sdk_internals_plain(tracer):
        return SpanRecorder(tracer)
    return ApiTracing(tracer)


def _sdk_internals_plain(tracer: SdkTracer) -> bool:
    """No SDK self-metrics to record per span (they are off unless configured)."""
    try:
        from opentelemetry.sdk.trace._tracer_metrics import NoOpTracerMetrics
    except ImportError:  # pragma: no cover - another SDK layout: take the API path
        return False
    return isinstance(getattr(tracer, "_tracer_metrics", None), NoOpTracerMetrics)


class TraceCarrier:
    """Carries the error context and the OpenTelemetry context into handlers."""

    __slots__ = ("tracing",)

    def __init__(self) -> None:
        self.tracing: dict[Runtime, Tracing] = {}

    def capture(self) -> tuple[ErrorContext | None, Context]:
        """The sender's error context and OpenTelemetry context."""
        return _error_get(), get_current()

    def enter(self, value: Any, cell: Cell, kind: int, message: Any) -> Any:
        """Make the error context current and start the message's span."""
        if type(value) is tuple and len(value) == 2:
            error, parent = value
            if type(parent) is not Context:
                parent = None
        else:  # captured by another carrier (around instrument/uninstrument)
            error, parent = value, None
        if error is not None and type(error) is not ErrorContext:
            error = None
        if error is not _error_get():
            _error_set(error)
        tracing = self.tracing.get(cell.runtime)
        if tracing is None:  # a runtime that is not instrumented
            return None
        return tracing.start(parent, error, cell, kind)

    def leave(self, token: Any, error: BaseException | None) -> None:
        """End the span; a failure also gets the message's error context attached."""
        if isinstance(error, Exception):
            context = _error_get()
            if context is not None:
                attach_context(error, context)
        if token is None:
            return
        cls = type(token)
        if cls is _ApiSpanToken:
            token.leave(error)
            return
        span = token if cls is MessageSpan else None
        if span is not None:
            if error is not None:
                record_outcome(span, error)
            token = span.restore
        try:  # make current again what the message's span replaced
            reset_current(token)
        except (ValueError, RuntimeError):  # a token the handler used already, or
            set_current(EMPTY)  # made in another task: nothing of the message stays current
        if span is not None:
            span.end()

    def reset(self) -> None:
        """An actor task starts (and idles) outside any error scope and any trace."""
        if _error_get() is not None:
            _error_set(None)
        if get_current():
            set_current(EMPTY)


CARRIER = TraceCarrier()
_gave_way: list[bool] = []  # whether the error-context carrier stepped aside for CARRIER


def trace_runtime(runtime: Runtime, tracing: Tracing) -> None:
    """Start tracing ``runtime``'s messages (the first one registers the carrier)."""
    if not CARRIER.tracing:
        _gave_way[:] = [_carry.unregister(ERROR_CONTEXT_CARRIER)]
        _carry.register(CARRIER)
    CARRIER.tracing[runtime] = tracing


def untrace_runtime(runtime: Runtime) -> None:
    """Stop tracing ``runtime`` (the last one gives the error carrier its place back)."""
    if CARRIER.tracing.pop(runtime, None) is None or CARRIER.tracing:
        return
    _carry.unregister(CARRIER)
    if _gave_way and _gave_way[0]:
        _carry.register(ERROR_CONTEXT_CARRIER)
    _gave_way.clear()
