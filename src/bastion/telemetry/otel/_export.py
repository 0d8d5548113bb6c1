"""An exporter wrapper that backs off while its endpoint is down and counts drops.

The OTLP exporters retry inside ``export`` (blocking the SDK's worker thread for up to
their timeout each batch). Wrapped in :class:`BackoffSpanExporter`, a failed export opens
a back-off window (doubling from ``initial_backoff`` up to ``max_backoff``) during which
batches are dropped at once and counted, so a dead collector costs the process almost
nothing; the first success closes the window. An exporter that *raises* is treated as
a failure too: nothing it does reaches the actors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["BackoffSpanExporter", "ExporterStatistics"]

_log = logging.getLogger("bastion.telemetry.otel")


@dataclass(frozen=True, slots=True)
class ExporterStatistics:
    """Counts of a :class:`BackoffSpanExporter` since it was created."""

    exported_spans: int
    dropped_spans: int
    failed_exports: int
    backing_off: bool
    backoff_seconds: float


class BackoffSpanExporter(SpanExporter):
    """Wrap a span exporter: back off exponentially after failures, count dropped spans."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        initial_backoff: float = 1.0,
        max_backoff: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < initial_backoff <= max_backoff:
            raise ValueError(
                f"need 0 < initial_backoff <= max_backoff, got {initial_backoff}, {max_backoff}"
            )
        self._exporter = exporter
        self._initial = initial_backoff
        self._max = max_backoff
        self._clock = clock
        self._lock = threading.Lock()
        self._exported = self._dropped = self._failures = 0
        self._backoff = 0.0
        self._until = 0.0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export, or drop at once while backing off."""
        with self._lock:
            if self._clock() < self._until:
                self._dropped += len(spans)
                return SpanExportResult.FAILURE
        try:
            result = self._exporter.export(spans)
        except Exception:  # noqa: BLE001 -- an exporter's failure is counted, never propagated
            _log.exception("span exporter %r raised; spans dropped", self._exporter)
            result = SpanExportResult.FAILURE
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self._exported += len(spans)
                self._backoff = 0.0
                self._until = 0.0
            else:
                self._failures += 1
                self._dropped += len(spans)
                self._backoff = min(self._max, self._backoff * 2 or self._initial)
                self._until = self._clock() + self._backoff
                if self._failures == 1:
                    _log.warning("span export failed; backing off %.1fs", self._backoff)
        return result

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return self._exporter.force_flush(timeout_millis)

    def statistics(self) -> ExporterStatistics:
        """A snapshot of what was exported and dropped."""
        with self._lock:
            return ExporterStatistics(
                exported_spans=self._exported,
                dropped_spans=self._dropped,
                failed_exports=self._failures,
                backing_off=self._clock() < self._until,
                backoff_seconds=self._backoff,
            )
