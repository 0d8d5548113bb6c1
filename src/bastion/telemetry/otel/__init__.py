"""OpenTelemetry for Bastion (the ``bastion[otel]`` extra): traces and metrics.

Off until you call :func:`instrument`; costs nothing while off::

    from bastion.telemetry import otel

    handle = otel.instrument(rt, tracer_provider=provider, meter_provider=meters)
    ...
    handle.uninstrument()

Traces: one span per handled message (``call X`` SERVER, ``cast X``/``info X``
CONSUMER), a child of the sender's span, which travels inside the message; so a trace
shows caller → actor → the actors it calls, across supervisors and restarts. Durable
workflows add a span per run (``workflow <name>``) with a child per step attempt
(``step <name>``). The
message's error context becomes the attributes ``bastion.correlation_id``,
``bastion.operation_id`` and ``bastion.operation``. Metrics: every metric of
``rt.metrics`` as an observable OTel instrument. See ``docs/observability-traces.md``.
"""

from __future__ import annotations

try:
    import opentelemetry.sdk  # noqa: F401 -- fail here with the extra's name
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "bastion.telemetry.otel needs the OpenTelemetry SDK: pip install 'bastion[otel]'"
    ) from exc

from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace

import bastion.resilience  # noqa: F401 -- registers the error carrier tracing stands in for
from bastion._core._runtime import Runtime
from bastion._public import publish
from bastion.telemetry.otel._export import BackoffSpanExporter, ExporterStatistics
from bastion.telemetry.otel._metrics import QUANTILES, bridge_metrics
from bastion.telemetry.otel._tracing import (
    CARRIER,
    TraceCarrier,
    trace_runtime,
    tracing_for,
    untrace_runtime,
)
from bastion.telemetry.otel._workflow_spans import WorkflowSpans

__all__ = [
    "BackoffSpanExporter",
    "ExporterStatistics",
    "instrument",
    "Instrumentation",
    "QUANTILES",
]

_INSTRUMENTED: dict[int, Instrumentation] = {}


@dataclass(eq=False)
class Instrumentation:
    """What :func:`instrument` turned on for one runtime; :meth:`uninstrument` undoes it."""

    runtime: Runtime
    carrier: TraceCarrier | None
    instruments: list[Any] = field(default_factory=list)
    workflow_spans: WorkflowSpans | None = None

    def uninstrument(self) -> None:
        """Stop tracing this runtime's messages (metric instruments stay until the
        meter provider shuts down: the OTel API cannot remove them)."""
        if self.carrier is not None:
            untrace_runtime(self.runtime)
            self.carrier = None
        if self.workflow_spans is not None:
            self.workflow_spans.detach()
            self.workflow_spans = None
        _INSTRUMENTED.pop(id(self.runtime), None)


def instrument(
    runtime: Runtime,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    traces: bool = True,
) -> Instrumentation:
    """Trace ``runtime``'s messages and export its metrics through OpenTelemetry.

    Providers default to the global ones (``trace.get_tracer_provider()``...). Metrics
    are bridged only if ``meter_provider`` is given. Raises ``ValueError`` if the
    runtime is instrumented already, ``TypeError`` for a non-runtime.
    """
    if not isinstance(runtime, Runtime):
        raise TypeError(f"instrument() takes a bastion Runtime, got {runtime!r}")
    if id(runtime) in _INSTRUMENTED:
        raise ValueError(f"{runtime!r} is instrumented already; call uninstrument() first")
    carrier = None
    workflow_spans = None
    if traces:
        provider = tracer_provider or trace.get_tracer_provider()
        tracer = provider.get_tracer("bastion")
        trace_runtime(runtime, tracing_for(tracer))
        carrier = CARRIER
        workflow_spans = WorkflowSpans(runtime, tracer)
        workflow_spans.attach()
    handle = Instrumentation(runtime, carrier, workflow_spans=workflow_spans)
    if meter_provider is not None:
        handle.instruments = bridge_metrics(runtime, meter_provider.get_meter("bastion"))
    _INSTRUMENTED[id(runtime)] = handle
    return handle


publish(globals(), "bastion.telemetry.otel")
