"""OpenTelemetry spans of durable workflows: one per run of a workflow, one per step attempt.

Built from the workflow span events (``("bastion", "workflow", "run" | "step", ...)``),
so the workflow engine needs no OpenTelemetry code: ``instrument(rt)`` attaches
:class:`WorkflowSpans` for the runtime and ``uninstrument()`` detaches it. A step's
span is a child of its run's span; the run's span is a child of whatever span was
current where the run started. Events from other runtimes are ignored.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util import types

from bastion._core import _event_names, _events
from bastion._core._runtime import Runtime, _current_runtime

__all__ = ["WorkflowSpans"]

_RUN = _event_names.DURABLE_WORKFLOW
_STEP = _event_names.DURABLE_STEP
_ENDS = ("start", "stop", "exception")
_ids = itertools.count(1)
#: Spans left open (a run whose end was never seen) are dropped past this many.
_MAX_OPEN = 100_000


class WorkflowSpans:
    """A telemetry handler that turns workflow span events into OpenTelemetry spans."""

    def __init__(self, runtime: Runtime, tracer: trace.Tracer) -> None:
        self._runtime = runtime
        self._tracer = tracer
        self._open: dict[tuple[Any, ...], Span] = {}
        self.handler_id = f"bastion.otel.workflows.{next(_ids)}"

    def attach(self) -> None:
        """Start listening to the workflow span events."""
        names = [(*prefix, end) for prefix in (_RUN, _STEP) for end in _ENDS]
        _events.attach(self.handler_id, names, self)

    def detach(self) -> None:
        """Stop listening; spans still open are ended."""
        _events.detach(self.handler_id)
        for span in self._open.values():
            span.end()
        self._open.clear()

    def __call__(
        self, event: tuple[str, ...], measurements: Mapping[str, Any], meta: Mapping[str, Any]
    ) -> None:
        if _current_runtime.get() is not self._runtime:
            return
        is_run = event[:-1] == _RUN
        workflow_id = meta.get("workflow_id")
        key = (workflow_id,) if is_run else (workflow_id, meta.get("step_no"))
        end = event[-1]
        if end == "start":
            self._start(key, is_run, meta)
            return
        span = self._open.pop(key, None)
        if span is None:
            return
        if end == "exception":
            reason = meta.get("reason")
            if isinstance(reason, BaseException):
                span.record_exception(reason)
            span.set_status(Status(StatusCode.ERROR, str(meta.get("kind", ""))))
        span.end()

    def _start(self, key: tuple[Any, ...], is_run: bool, meta: Mapping[str, Any]) -> None:
        if len(self._open) >= _MAX_OPEN:
            self._open.clear()
        attributes: dict[str, types.AttributeValue]
        if is_run:
            name = f"workflow {meta.get('workflow')}"
            parent = None
            attributes = {
                "bastion.workflow": str(meta.get("workflow")),
                "bastion.workflow_id": str(key[0]),
            }
        else:
            name = f"step {meta.get('step')}"
            run = self._open.get((key[0],))
            parent = trace.set_span_in_context(run) if run is not None else None
            attributes = {
                "bastion.workflow_id": str(key[0]),
                "bastion.step": str(meta.get("step")),
                "bastion.step_no": int(meta.get("step_no") or 0),
            }
        self._open[key] = self._tracer.start_span(
            name, context=parent, kind=SpanKind.INTERNAL, attributes=attributes
        )
