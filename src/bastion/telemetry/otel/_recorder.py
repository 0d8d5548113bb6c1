"""Start and end message spans on an SDK ``TracerProvider`` without ``Tracer.start_span``.

A :class:`SpanRecorder` does what the SDK's tracer does for one span, with what it
does not need left out of the message loop:

* **Sampling**: the provider's sampler, compiled once (:mod:`._sampling`), decides from
  the parent span the message carries: none (a root: a new trace id), one of Bastion's
  own (sampled or not, local), or another (its ``SpanContext``: remote or local,
  sampled or not). A child of an unsampled Bastion span under a parent-based sampler
  costs one test: the parent's context simply stays current, nothing is created.
* **Unsampled** messages get an :class:`~._spans.UnsampledSpan` (no ``SpanContext``, no
  span id until asked for) so what the handler sends stays in the same, unsampled trace.
* **Sampled** messages get a :class:`~._spans.MessageSpan` (its SDK fields built when
  first read: in the exporter's thread with a ``BatchSpanProcessor``). Processors get
  ``on_start`` only if they override it; a ``BatchSpanProcessor`` is handed the span
  straight into its queue (its ``on_end`` only re-checks the sampled flag). A
  processor that raises is logged once and counted, never raised into the actor.

The span is current while the handler runs (``opentelemetry.trace.get_current_span()``),
so spans the handler opens and messages it sends are its children.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from random import getrandbits
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.trace import (
    SpanLimits,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    Tracer,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationInfo, InstrumentationScope
from opentelemetry.trace import SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from bastion._core._cell import CALL, Cell
from bastion._core._errors import ExpectedError
from bastion.telemetry.otel._context import EMPTY, SPAN_KEY, set_current
from bastion.telemetry.otel._sampling import NEVER, TRACE_ID_LIMIT, compile_sampler
from bastion.telemetry.otel._spans import KINDS, MessageSpan, UnsampledSpan

if TYPE_CHECKING:
    from bastion.resilience import ErrorContext

__all__ = ["SpanRecorder", "message_attributes", "record_outcome"]

_log = logging.getLogger("bastion.telemetry.otel")
_SAMPLED, _RANDOM = TraceFlags.SAMPLED, TraceFlags.RANDOM_TRACE_ID
#: Trace flags, made once, at ``2 * sampled + random_trace_id``.
_FLAGS = tuple(
    TraceFlags(_SAMPLED * sampled | _RANDOM * random) for sampled in (0, 1) for random in (0, 1)
)


def message_attributes(cell: Cell, error: ErrorContext | None) -> dict[str, Any]:
    """The attributes of a message's span: the actor and the message's error context."""
    attributes: dict[str, Any] = {"messaging.system": "bastion", "bastion.actor": repr(cell)}
    if error is not None:
        attributes["bastion.correlation_id"] = error.correlation_id
        attributes["bastion.operation_id"] = error.operation_id
        attributes["bastion.operation"] = error.operation
    return attributes


def record_outcome(span: trace_api.Span, error: BaseException) -> None:
    """An expected error is recorded; a crash also sets the span's status to ERROR."""
    expected = isinstance(error, ExpectedError)
    span.set_attribute("bastion.outcome", "expected_error" if expected else "crash")
    span.record_exception(error)
    if not expected:
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))


class SpanRecorder:
    """Message spans of one runtime on one SDK tracer (see the module docstring)."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.sampler = tracer.sampler
        self.policy = compile_sampler(tracer.sampler)
        self.limits: SpanLimits = tracer._span_limits
        self.scope: InstrumentationScope = tracer._instrumentation_scope
        self.info: InstrumentationInfo = tracer.instrumentation_info
        generator = tracer.id_generator
        self._fast_ids = type(generator) is RandomIdGenerator
        self.new_trace_id: Callable[[], int] = generator.generate_trace_id
        self.new_span_id: Callable[[], int] = generator.generate_span_id
        self._random_ids = bool(generator.is_trace_id_random())
        self._active = tracer.span_processor
        self._flatten = type(self._active) is SynchronousMultiSpanProcessor
        self._seen: object = None
        self._starts: tuple[Callable[..., None], ...] = ()
        self._endings: tuple[Callable[[Any], None], ...] = ()
        self._ends: tuple[Callable[[Any], None], ...] = ()
        self._ends_sampled: tuple[Callable[[Any], None], ...] = ()
        self.processor_errors = 0
        self._refresh()

    @property
    def resource(self) -> Any:
        """The tracer's resource (read when a span is exported)."""
        return self.tracer.resource

    # -- span processors ---------------------------------------------------------------
    def _refresh(self) -> None:
        """Read the provider's processors again (one was added since the last span)."""
        if self._flatten:
            processors = self._seen = self._active._span_processors
        else:
            processors = (self._active,)
        self._starts = tuple(
            p.on_start for p in processors if type(p).on_start is not SpanProcessor.on_start
        )
        self._endings = tuple(
            p._on_ending
            for p in processors
            if getattr(type(p), "_on_ending", SpanProcessor._on_ending)
            is not SpanProcessor._on_ending
        )
        self._ends = tuple(p.on_end for p in processors)
        self._ends_sampled = tuple(_sampled_end(p) for p in processors)

    def _failed(self, what: str) -> None:
        self.processor_errors += 1
        if self.processor_errors == 1:
            _log.exception("a span processor raised in %s (counted; only this one is logged)", what)

    def finish(self, span: MessageSpan) -> None:
        """Hand an ended span to the processors (``MessageSpan.end`` calls this)."""
        if self._flatten and self._active._span_processors is not self._seen:
            self._refresh()
        try:
            for ending in self._endings:
                ending(span)
            for end in self._ends_sampled if span.sampled else self._ends:
                end(span)
        except Exception:  # noqa: BLE001 -- a processor's failure is counted, never raised into the actor
            self._failed("on_end")

    # -- a message's span --------------------------------------------------------------
    def start(
        self, parent_context: Context | None, error: ErrorContext | None, cell: Cell, kind: int
    ) -> Any:
        """Make the message's span current; return what :meth:`leave` takes."""
        parent = parent_context.get(SPAN_KEY) if parent_context else None
        policy = self.policy
        trace_state: TraceState | None = None
        random = self._random_ids
        link: Any = parent  # the parent as the span records it
        if type(parent) is UnsampledSpan:
            slot = policy.local_not_sampled
            if slot is NEVER:  # parent-based: nothing to record, the parent stays current
                return set_current(parent_context)  # type: ignore[arg-type]
            trace_id, trace_state = parent.trace_id, parent._trace_state
            random = parent.flags.random_trace_id
        elif type(parent) is MessageSpan:
            trace_id, trace_state = parent.trace_id, parent._trace_state
            slot = policy.local_sampled if parent.sampled else policy.local_not_sampled
            random = parent._flags.random_trace_id
        else:
            context = (
                parent.get_span_context()
                if parent is not None and isinstance(parent, trace_api.Span)
                else None
            )
            if context is None or not context.is_valid:
                link = None
                slot = policy.root
                trace_id = getrandbits(128) if self._fast_ids else self.new_trace_id()
                while not trace_id:
                    trace_id = self.new_trace_id()
            else:
                link = context
                trace_id, trace_state = context.trace_id, context.trace_state
                flags = context.trace_flags
                random = flags.random_trace_id
                if context.is_remote:
                    slot = policy.remote_sampled if flags.sampled else policy.remote_not_sampled
                else:
                    slot = policy.local_sampled if flags.sampled else policy.local_not_sampled
                if slot is NEVER and not flags.sampled and policy.local_not_sampled is NEVER:
                    # its children would drop too: the parent stays current, as for ours
                    return set_current(parent_context)  # type: ignore[arg-type]
        if not self.tracer._tracer_config.is_enabled:  # a disabled tracer records nothing
            return set_current(parent_context or EMPTY)
        extra = None
        if isinstance(slot, int):
            sampled = recording = trace_id & TRACE_ID_LIMIT < slot
        else:
            attributes = message_attributes(cell, error)
            result = slot.should_sample(
                parent_context or EMPTY,
                trace_id,
                f"{KINDS[kind]} {type(cell.actor).__name__}",
                SpanKind.SERVER if kind == CALL else SpanKind.CONSUMER,
                attributes,
                (),
            )
            decision = result.decision
            sampled = decision is Decision.RECORD_AND_SAMPLE
            recording = sampled or decision is Decision.RECORD_ONLY
            trace_state = result.trace_state
            extra = result.attributes
        if not recording:
            unsampled = UnsampledSpan(trace_id, _FLAGS[random], trace_state, self.new_span_id)
            if parent_context:
                return set_current(Context({**parent_context, SPAN_KEY: unsampled}))
            return set_current(Context({SPAN_KEY: unsampled}))
        span_id = getrandbits(64) if self._fast_ids else 0
        span = MessageSpan(
            self, trace_id, span_id or self.new_span_id(), _FLAGS[2 * sampled + random], link, cell,
            kind, error,
        )  # fmt: skip
        if trace_state is not None:
            span._trace_state = trace_state
        if extra is not None:
            span._extra = extra
        if parent_context:
            span.restore = set_current(Context({**parent_context, SPAN_KEY: span}))
        else:
            span.restore = set_current(Context({SPAN_KEY: span}))
        if self._flatten and self._active._span_processors is not self._seen:
            self._refresh()
        if self._starts:
            try:
                for on_start in self._starts:
                    on_start(span, parent_context=parent_context)
            except Exception:  # noqa: BLE001 -- a processor's failure is counted, never raised into the actor
                self._failed("on_start")
        return span


def _sampled_end(processor: SpanProcessor) -> Callable[[Any], None]:
    """How to hand a *sampled* ended span to ``processor``.

    A ``BatchSpanProcessor``'s ``on_end`` only re-checks the sampled flag (building the
    span's ``SpanContext`` on the loop) before queueing it: queue it directly.
    """
    if type(processor) is BatchSpanProcessor:
        batch = getattr(processor, "_batch_processor", None)
        emit = getattr(batch, "emit", None)
        if callable(emit) and type(processor).on_end is BatchSpanProcessor.on_end:
            return emit  # type: ignore[no-any-return]
    return processor.on_end
