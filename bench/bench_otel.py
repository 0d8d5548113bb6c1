"""Tracing and error-context overhead: call round trip with OTel spans vs metrics only.

Method (as ``bench_observability``): one runtime, one echo actor, one loop; chunks of
``CHUNK`` call round trips (each timed on its own) alternate between configurations,
switched between chunks, ``CHUNKS`` chunks each. A chunk that lost the CPU to another
process is several times slower, so the headline compares the *best* chunk median of
each configuration; the median over chunks is in the JSON as ``*_median``.

Configurations (the runtime's own metrics are on in all of them, as by default):

* ``metrics_only``: no OpenTelemetry, no error scope;
* ``span_per_call``: ``bastion.telemetry.otel.instrument`` with an SDK ``TracerProvider``
  sampling every span (``ALWAYS_ON``), a ``BatchSpanProcessor`` and an exporter that
  discards them (the SDK's cost, not a network's);
* ``parent_based_on``: the SDK's default sampler, ``ParentBased(ALWAYS_ON)`` (each call
  here is a root: every span sampled, as above);
* ``sampled_10pct``: ``ParentBased(TraceIdRatioBased(0.1))``;
* ``sampled_off``: ``ALWAYS_OFF`` (nothing recorded; each message still carries an
  unsampled trace position);
* ``unsampled_parent``: ``ParentBased(TraceIdRatioBased(0.1))`` with the calls made
  under an unsampled remote parent span (a request whose trace was not sampled
  upstream): the decision is the parent's, nothing is created for the message;
* ``error_context``: no OTel, every call made inside an ``error_scope`` (the context
  travels in the message);
* ``no_carrier``: the error-context carrier unregistered (what a send costs when no
  layer carries anything).

Cast throughput (``cast_nowait`` chunks plus a flushing call) is compared the same way
for ``no_carrier``, ``metrics_only`` (carrier registered, no scope) and
``error_context``.

    python bench/run.py --only otel [--quick] [--json]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bastion
from _echo import Echo, call_chunk_median, cast_chunk_rate
from bastion._core import _carry
from bastion.resilience import error_scope
from bastion.resilience._carry import ERROR_CONTEXT_CARRIER
from bastion.telemetry import otel


def _provider(sampler: Any) -> Any:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(Discard(), max_queue_size=65536))
    return provider


def _samplers() -> dict[str, Any]:
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_OFF,
        ALWAYS_ON,
        ParentBased,
        TraceIdRatioBased,
    )

    return {
        "span_per_call": ALWAYS_ON,
        "parent_based_on": ParentBased(ALWAYS_ON),
        "sampled_10pct": ParentBased(TraceIdRatioBased(0.1)),
        "sampled_off": ALWAYS_OFF,
        "unsampled_parent": ParentBased(TraceIdRatioBased(0.1)),
    }


def _unsampled_remote_parent() -> Any:
    from opentelemetry import trace

    context = trace.SpanContext(0xB0B, 0xA11CE, is_remote=True, trace_flags=trace.TraceFlags(0))
    return trace.use_span(trace.NonRecordingSpan(context))


@contextlib.contextmanager
def _configured(name: str, rt: bastion.Runtime, providers: dict[str, Any]) -> Iterator[None]:
    """Switch the process into configuration ``name`` for one chunk."""
    if name == "no_carrier":
        _carry.unregister(ERROR_CONTEXT_CARRIER)
        try:
            yield
        finally:
            _carry.register(ERROR_CONTEXT_CARRIER)
    elif name == "error_context":
        with error_scope("bench", correlation_id="req-bench"):
            yield
    elif name in providers:
        handle = otel.instrument(rt, tracer_provider=providers[name])
        try:
            if name == "unsampled_parent":
                with _unsampled_remote_parent():
                    yield
            else:
                yield
        finally:
            handle.uninstrument()
    else:
        yield


async def _rtt_chunk(ref: bastion.ActorRef, size: int) -> float:
    return await call_chunk_median(ref, size) * 1e6


async def _alternate(
    names: Sequence[str],
    chunks: int,
    measure: Callable[[bastion.ActorRef], Any],
    providers: dict[str, Any],
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in names}
    async with bastion.open_runtime(mailbox_capacity=10_000) as rt:
        ref = await rt.spawn(Echo)
        for name in names:  # warm-up, not recorded
            with _configured(name, rt, providers):
                await measure(ref)
        for _ in range(chunks):
            for name in names:
                with _configured(name, rt, providers):
                    results[name].append(await measure(ref))
    return results


def run(quick: bool) -> dict[str, Any]:
    """Best-chunk call RTT per configuration, cast rates, and the ratios between them."""
    chunks, rtt_size, cast_size = (20, 100, 2_000) if quick else (60, 200, 2_000)
    samplers = _samplers()
    providers = {name: _provider(sampler) for name, sampler in samplers.items()}
    rtt_names = ("metrics_only", *samplers, "error_context", "no_carrier")
    cast_names = ("no_carrier", "metrics_only", "error_context")
    try:
        rtt = asyncio.run(
            _alternate(rtt_names, chunks, lambda ref: _rtt_chunk(ref, rtt_size), providers)
        )
        cast = asyncio.run(
            _alternate(cast_names, chunks, lambda ref: cast_chunk_rate(ref, cast_size), providers)
        )
    finally:
        for provider in providers.values():
            provider.shutdown()
    best = {name: round(min(values), 3) for name, values in rtt.items()}
    median = {name: round(statistics.median(values), 3) for name, values in rtt.items()}
    cast_best = {name: round(max(values)) for name, values in cast.items()}
    base = best["metrics_only"]
    ratios = {
        "otel_span_per_call_vs_metrics_only": round(best["span_per_call"] / base, 3),
        "otel_parent_based_on_vs_metrics_only": round(best["parent_based_on"] / base, 3),
        "otel_sampled_10pct_vs_metrics_only": round(best["sampled_10pct"] / base, 3),
        "otel_sampled_off_vs_metrics_only": round(best["sampled_off"] / base, 3),
        "otel_unsampled_parent_vs_metrics_only": round(best["unsampled_parent"] / base, 3),
        "error_context_call_vs_none": round(best["error_context"] / base, 3),
        "error_carrier_call_vs_no_carrier": round(base / best["no_carrier"], 3),
        "error_context_cast_vs_none": round(
            cast_best["error_context"] / cast_best["metrics_only"], 3
        ),
        "error_carrier_cast_vs_no_carrier": round(
            cast_best["metrics_only"] / cast_best["no_carrier"], 3
        ),
    }
    return {
        "otel_call_rtt_us": best,
        "otel_call_rtt_us_median": median,
        "context_cast_msgs_per_s": cast_best,
        "otel_sizes": {"chunks": chunks, "calls_per_chunk": rtt_size, "casts": cast_size},
        "otel_targets": {
            "span_per_call_le_2x": ratios["otel_span_per_call_vs_metrics_only"] <= 2,
            "sampled_10pct_le_2x": ratios["otel_sampled_10pct_vs_metrics_only"] <= 2,
        },
        "ratios": ratios,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, sort_keys=True))
