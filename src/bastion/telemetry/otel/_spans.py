"""The spans Bastion opens per handled message: compact while live, SDK spans when read.

:class:`MessageSpan` is an OpenTelemetry API span (handlers can set attributes, add
events, record exceptions on ``trace.get_current_span()``) *and* an SDK
``ReadableSpan`` (what span processors and exporters receive). Starting one stores a
few values (ids, start time, the cell, the message kind, the error context, the
parent); the SDK fields (``_name``, ``_context``, ``_parent``, ``_attributes``,
``_events``, ...) are built on first read and kept. With a ``BatchSpanProcessor`` that
first read happens in the processor's export thread, so the message loop never builds
a ``SpanContext``, an attribute mapping or an actor label for a span it ends. Attribute
limits, validation and events are the SDK's own (``BoundedAttributes``, ``BoundedList``,
``Event``); one difference: a span is meant to be used from the actor's task only (no
lock; the SDK locks each mutation).

:class:`UnsampledSpan` is what is current while a handler runs in a trace that is not
sampled: a ``NonRecordingSpan`` whose ``SpanContext`` (and span id) are made only if
someone asks for it (to inject it into an outgoing request, say).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from time import time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState
from opentelemetry.util import types

from bastion._core._cell import CALL, Cell

if TYPE_CHECKING:
    from bastion.resilience import ErrorContext
    from bastion.telemetry.otel._recorder import SpanRecorder

__all__ = ["KINDS", "MessageSpan", "UnsampledSpan"]

_log = logging.getLogger("bastion.telemetry.otel")
KINDS = ("call", "cast", "info", "continue")
_UNSET = Status(StatusCode.UNSET)


class MessageSpan(trace_api.Span, ReadableSpan):
    """One handled message's span (see the module docstring)."""

    __slots__ = (
        "_cell",
        "_end_time",
        "_error",
        "_extra",
        "_flags",
        "_kind_index",
        "_parent_span",
        "_recorder",
        "_span_context",
        "_start_time",
        "_trace_state",
        "restore",
        "sampled",
        "span_id",
        "trace_id",
    )

    def __init__(
        self,
        recorder: SpanRecorder,
        trace_id: int,
        span_id: int,
        flags: TraceFlags,
        parent: trace_api.Span | SpanContext | None,
        cell: Cell,
        kind: int,
        error: ErrorContext | None,
    ) -> None:
        self._recorder = recorder
        self.trace_id = trace_id
        self.span_id = span_id
        self._flags = flags
        self.sampled = flags.sampled
        self._parent_span = parent
        self._cell = cell
        self._kind_index = kind
        self._error = error
        self._extra: Mapping[str, Any] | None = None  # attributes a called sampler chose
        self._trace_state: TraceState | None = None
        self._span_context: SpanContext | None = None
        self._start_time = time_ns()
        self._end_time: int | None = None
        self.restore: Any = None  # the token that restores the context this span replaced

    # -- the SDK fields, built on first read ------------------------------------------
    if TYPE_CHECKING:
        _name: str
        _attributes: BoundedAttributes
        _events: BoundedList[Event]
        _links: BoundedList[trace_api.Link]
        _status: Status
    else:

        def __getattr__(self, name: str) -> Any:
            build = _FIELDS.get(name)
            if build is None:
                raise AttributeError(name)
            value = build(self)
            setattr(self, name, value)
            return value

    def get_span_context(self) -> SpanContext:
        """This span's context (made on first use)."""
        context = self._span_context
        if context is None:
            context = self._span_context = SpanContext(
                self.trace_id, self.span_id, False, self._flags, self._trace_state
            )
        return context

    def parent_context(self) -> SpanContext | None:
        """The parent span's context (``None`` for a root span)."""
        parent = self._parent_span
        if parent is None or isinstance(parent, SpanContext):
            return parent
        return parent.get_span_context()

    def base_attributes(self) -> dict[str, Any]:
        """The attributes the span starts with: the actor and the error context, or, if
        a sampler that is called (not compiled) decided, what it returned (as the SDK)."""
        if self._extra is not None:
            return dict(self._extra)
        attributes: dict[str, Any] = {
            "messaging.system": "bastion",
            "bastion.actor": repr(self._cell),
        }
        error = self._error
        if error is not None:
            attributes["bastion.correlation_id"] = error.correlation_id
            attributes["bastion.operation_id"] = error.operation_id
            attributes["bastion.operation"] = error.operation
        return attributes

    # -- the API span ------------------------------------------------------------------
    def is_recording(self) -> bool:
        """True until the span ends."""
        return self._end_time is None

    def _ended(self, what: str) -> bool:
        if self._end_time is None:
            return False
        _log.warning("%s on an ended span (%s)", what, self._name)
        return True

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        """Set one attribute (validated by the SDK's ``BoundedAttributes``)."""
        if not self._ended("set_attribute"):
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        """Set several attributes."""
        if not self._ended("set_attributes"):
            for key, value in attributes.items():
                self._attributes[key] = value

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        """Add an event (the SDK's ``Event``, its attributes bounded by the span limits)."""
        if self._ended("add_event"):
            return
        limits = self._recorder.limits
        bounded = BoundedAttributes(
            limits.max_event_attributes,
            attributes,
            immutable=True,
            max_value_len=limits.max_attribute_length,
        )
        self._events.append(Event(name=name, attributes=bounded, timestamp=timestamp))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        """Link another span (ignored, as by the SDK, if the link carries nothing)."""
        if self._ended("add_link"):
            return
        if not (context and (context.is_valid or attributes or context.trace_state)):
            return
        limits = self._recorder.limits
        bounded = BoundedAttributes(
            limits.max_link_attributes,
            attributes,
            immutable=True,
            max_value_len=limits.max_attribute_length,
        )
        self._links.append(trace_api.Link(context=context, attributes=bounded))

    def update_name(self, name: str) -> None:
        """Rename the span."""
        if not self._ended("update_name"):
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the status (as the SDK: ``OK`` is final, ``UNSET`` is ignored)."""
        if self._ended("set_status"):
            return
        current = self._status
        if current.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Record ``exception`` as an ``exception`` event (the SDK's attributes)."""
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        described: dict[str, Any] = {
            "exception.type": (
                f"{module}.{qualname}" if module and module != "builtins" else qualname
            ),
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            described.update(attributes)
        self.add_event("exception", described, timestamp)

    def end(self, end_time: int | None = None) -> None:
        """End the span and hand it to the provider's span processors."""
        if self._end_time is not None:
            _log.warning("end() on an ended span (%s)", self._name)
            return
        self._end_time = end_time if end_time is not None else time_ns()
        attributes = self.__dict__.get("_attributes")
        if attributes is not None:
            attributes._immutable = True  # as the SDK does at end
        self._recorder.finish(self)

    def __repr__(self) -> str:
        return (
            f"MessageSpan({KINDS[self._kind_index]} {self._cell!r}, "
            f"trace_id=0x{self.trace_id:032x}, span_id=0x{self.span_id:016x})"
        )


def _attributes(span: MessageSpan) -> BoundedAttributes:
    limits = span._recorder.limits
    return BoundedAttributes(
        limits.max_span_attributes,
        span.base_attributes(),
        immutable=span._end_time is not None,
        max_value_len=limits.max_attribute_length,
    )


def _kind(span: MessageSpan) -> SpanKind:
    return SpanKind.SERVER if span._kind_index == CALL else SpanKind.CONSUMER


def _name(span: MessageSpan) -> str:
    return f"{KINDS[span._kind_index]} {type(span._cell.actor).__name__}"


#: How each SDK field of a :class:`MessageSpan` is built on first read.
_FIELDS: dict[str, Callable[[MessageSpan], Any]] = {
    "_name": _name,
    "_kind": _kind,
    "_context": MessageSpan.get_span_context,
    "_parent": MessageSpan.parent_context,
    "_attributes": _attributes,
    "_events": lambda span: BoundedList(span._recorder.limits.max_events),
    "_links": lambda span: BoundedList(span._recorder.limits.max_links),
    "_status": lambda span: _UNSET,
    "_resource": lambda span: span._recorder.resource,
    "_instrumentation_scope": lambda span: span._recorder.scope,
    "_instrumentation_info": lambda span: span._recorder.info,
}


class UnsampledSpan(trace_api.NonRecordingSpan):
    """Current while a handler runs in an unsampled trace; its context is made on demand."""

    __slots__ = ("_new_span_id", "_span_context", "_trace_state", "flags", "trace_id")

    def __init__(
        self,
        trace_id: int,
        flags: TraceFlags,
        trace_state: TraceState | None,
        new_span_id: Callable[[], int],
    ) -> None:
        self.trace_id = trace_id
        self.flags = flags
        self._trace_state = trace_state
        self._new_span_id = new_span_id
        self._span_context: SpanContext | None = None

    def get_span_context(self) -> SpanContext:
        """A valid, unsampled context in this trace (its span id drawn on first use)."""
        context = self._span_context
        if context is None:
            context = self._span_context = SpanContext(
                self.trace_id, self._new_span_id(), False, self.flags, self._trace_state
            )
        return context

    def __repr__(self) -> str:
        return f"UnsampledSpan(trace_id=0x{self.trace_id:032x})"
