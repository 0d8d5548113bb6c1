"""A span per handled message, parented to the sender's span carried in the message.

:class:`TraceCarrier` is a kernel carrier (``bastion._core._carry``): at send time it
captures the sender's OpenTelemetry context (which holds its current span); in the
actor's task it starts one span per message as a child of that context, makes it
current while the handler runs (so the actors the handler calls become its children)
and ends it when the handler returns or raises. A call is a ``SERVER`` span, a cast or
an info a ``CONSUMER`` span. The error context of the message (already current: the
error-context carrier is registered first) becomes span attributes. Attributes are kept
few on purpose: the SDK validates each one on every span.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from bastion._core._cell import CALL, Cell
from bastion._core._errors import ExpectedError
from bastion._core._runtime import Runtime
from bastion.resilience import current_context

__all__ = ["TraceCarrier"]

_KINDS = ("call", "cast", "info", "continue")
_EMPTY = otel_context.Context()


class TraceCarrier:
    """Carries the OpenTelemetry context into handlers and opens a span per message."""

    __slots__ = ("_runtime", "_tracer")

    def __init__(self, tracer: Tracer, runtime: Runtime) -> None:
        self._tracer = tracer
        self._runtime = runtime

    def capture(self) -> otel_context.Context:
        """The sender's OpenTelemetry context (its current span, baggage)."""
        return otel_context.get_current()

    def enter(
        self, value: object, cell: Cell, kind: int, message: Any
    ) -> tuple[trace.Span, object] | None:
        """Start the message's span as a child of the sender's and make it current."""
        if cell.runtime is not self._runtime:
            return None
        # a value that is not a Context was captured by another carrier (before
        # instrument()): the span is then a root
        parent = value if isinstance(value, otel_context.Context) else _EMPTY
        attributes: dict[str, Any] = {"messaging.system": "bastion", "bastion.actor": repr(cell)}
        error_context = current_context()
        if error_context is not None:
            attributes["bastion.correlation_id"] = error_context.correlation_id
            attributes["bastion.operation_id"] = error_context.operation_id
            attributes["bastion.operation"] = error_context.operation
        span = self._tracer.start_span(
            f"{_KINDS[kind]} {type(cell.actor).__name__}",
            context=parent,
            kind=SpanKind.SERVER if kind == CALL else SpanKind.CONSUMER,
            attributes=attributes,
        )
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    def leave(self, token: tuple[trace.Span, object] | None, error: BaseException | None) -> None:
        """End the span: an expected error is recorded, a crash also sets status ERROR."""
        if token is None:
            return
        span, attached = token
        if error is not None:
            expected = isinstance(error, ExpectedError)
            span.set_attribute("bastion.outcome", "expected_error" if expected else "crash")
            span.record_exception(error)
            if not expected:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        otel_context.detach(attached)  # type: ignore[arg-type]
        span.end()

    def reset(self) -> None:
        """An actor task starts (and idles) outside its creator's trace."""
        if otel_context.get_current() is not _EMPTY:
            otel_context.attach(_EMPTY)
