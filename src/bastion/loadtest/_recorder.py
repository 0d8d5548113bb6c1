"""Recording iterations: a log-linear histogram per scenario and second, counts, errors.

Nothing keeps samples: latencies go into :class:`~bastion.telemetry.LogLinearHistogram`
buckets (fixed memory, < 1 % error), one per (scenario, second of the recorded window)
while that second may still receive results, then compacted into a snapshot. The
recorded :class:`Measurements` are plain data: worker processes ship them to the
parent, which adds them bucket-wise (:func:`merge_measurements`), exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bastion._core._errors import BastionError
from bastion._core._histogram import HistogramSnapshot, LogLinearHistogram, merge
from bastion.resilience import normalize

__all__ = ["Cell", "ErrorCount", "Measurements", "Recorder", "merge_measurements"]

MAX_ERROR_KINDS = 100  # distinct (scenario, category, code) kept; more fold into "other"


@dataclass(frozen=True, slots=True)
class Cell:
    """One scenario's results for one second of the recorded window."""

    scenario: int
    second: int
    ok: int
    failed: int
    latency: HistogramSnapshot  # successful iterations, seconds


@dataclass(frozen=True, slots=True)
class ErrorCount:
    """How often one kind of error happened in one scenario, with an example message."""

    scenario: int
    category: str
    code: str
    count: int
    example: str


@dataclass(frozen=True, slots=True)
class Measurements:
    """Everything one recorder saw; add several with :func:`merge_measurements`."""

    scenarios: tuple[str, ...]
    cells: tuple[Cell, ...]
    errors: tuple[ErrorCount, ...]
    warmup_iterations: int = 0
    interrupted: int = 0
    offered: int = 0
    max_start_lag: float = 0.0
    window: float = 0.0  # seconds of recorded load


def classify(error: BaseException) -> tuple[str, str]:
    """``(category, code)`` of an error, by Bastion's error model (``normalize``)."""
    bastion_error = error if isinstance(error, BastionError) else normalize(error)
    return bastion_error.category.value, bastion_error.code


class Recorder:
    """Collects iteration results of one process; see the module docstring."""

    __slots__ = (
        "_errors",
        "_examples",
        "_failed",
        "_live",
        "_newest",
        "_settle_lag",
        "_settled",
        "completed",
        "failures",
        "interrupted",
        "max_start_lag",
        "offered",
        "origin",
        "scenarios",
        "warmup_iterations",
        "window",
    )

    def __init__(self, scenarios: Sequence[str], *, settle_lag: int = 10) -> None:
        self.scenarios = tuple(scenarios)
        self.origin = 0.0  # loop time at which recording starts
        self._live: dict[tuple[int, int], LogLinearHistogram] = {}
        self._settled: dict[tuple[int, int], list[HistogramSnapshot]] = {}
        self._failed: dict[tuple[int, int], int] = {}
        self._errors: dict[tuple[int, str, str], int] = {}
        self._examples: dict[tuple[int, str, str], str] = {}
        self._newest = -1
        self._settle_lag = settle_lag
        self.warmup_iterations = 0
        self.completed = 0  # recorded iterations, ok or not (for live progress)
        self.failures = 0
        self.interrupted = 0
        self.offered = 0
        self.max_start_lag = 0.0
        self.window = 0.0

    def histogram(self, scenario: int, second: int) -> LogLinearHistogram:
        """The histogram of ``scenario``'s successes in ``second`` (a user's fast path
        caches it while the second lasts; count them into ``completed`` yourself)."""
        key = (scenario, second)
        histogram = self._live.get(key)
        return histogram if histogram is not None else self._open(key)

    def ok(self, scenario: int, start: float, latency: float) -> None:
        """A successful iteration that started at loop time ``start``."""
        key = (scenario, int(start - self.origin))
        histogram = self._live.get(key)
        if histogram is None:
            histogram = self._open(key)
        histogram.record(latency)
        self.completed += 1

    def failed(self, scenario: int, start: float, error: BaseException) -> None:
        """A failed iteration (raised, returned or timed out)."""
        key = (scenario, int(start - self.origin))
        if key not in self._live:
            self._open(key)
        self._failed[key] = self._failed.get(key, 0) + 1
        self.completed += 1
        self.failures += 1
        category, code = classify(error)
        kind = (scenario, category, code)
        if kind not in self._errors:
            if len(self._errors) >= MAX_ERROR_KINDS:
                kind = (scenario, category, "other")
                self._examples.setdefault(kind, "more kinds of errors than kept")
            else:
                self._examples[kind] = f"{type(error).__name__}: {error}"[:200]
        self._errors[kind] = self._errors.get(kind, 0) + 1

    def _open(self, key: tuple[int, int]) -> LogLinearHistogram:
        histogram = self._live[key] = LogLinearHistogram()
        second = key[1]
        if second > self._newest:
            self._newest = second
            self._settle(second - self._settle_lag)
        return histogram

    def _settle(self, before: int) -> None:
        """Compact histograms of seconds older than ``before`` into snapshots."""
        for key in [k for k in self._live if k[1] < before]:
            self._settled.setdefault(key, []).append(self._live.pop(key).snapshot())

    def recent(self, seconds: int = 2) -> HistogramSnapshot:
        """Latencies of the newest ``seconds`` seconds with results (live p99)."""
        parts = [h.snapshot() for (_, s), h in self._live.items() if s > self._newest - seconds]
        return merge(parts) if parts else LogLinearHistogram().snapshot()

    def measurements(self) -> Measurements:
        """What was recorded so far, as plain data."""
        keys = sorted(set(self._live) | set(self._settled) | set(self._failed))
        cells = []
        for key in keys:
            parts = list(self._settled.get(key, []))
            if key in self._live:
                parts.append(self._live[key].snapshot())
            latency = merge(parts) if parts else LogLinearHistogram().snapshot()
            failed = self._failed.get(key, 0)
            cells.append(Cell(key[0], key[1], latency.count, failed, latency))
        errors = tuple(
            ErrorCount(*kind, count, self._examples[kind])
            for kind, count in sorted(self._errors.items())
        )
        return Measurements(
            self.scenarios,
            tuple(cells),
            errors,
            self.warmup_iterations,
            self.interrupted,
            self.offered,
            self.max_start_lag,
            self.window,
        )


def merge_measurements(parts: Sequence[Measurements]) -> Measurements:
    """Add measurements of the same load test (e.g. from worker processes), bucket-wise."""
    if not parts:
        raise ValueError("nothing to merge")
    scenarios = parts[0].scenarios
    if any(p.scenarios != scenarios for p in parts):
        raise ValueError("measurements of different load tests cannot be merged")
    grouped: dict[tuple[int, int], list[Cell]] = {}
    for part in parts:
        for cell in part.cells:
            grouped.setdefault((cell.scenario, cell.second), []).append(cell)
    cells = tuple(
        Cell(
            key[0],
            key[1],
            sum(c.ok for c in group),
            sum(c.failed for c in group),
            merge([c.latency for c in group]),
        )
        for key, group in sorted(grouped.items())
    )
    errors: dict[tuple[int, str, str], ErrorCount] = {}
    for part in parts:
        for error in part.errors:
            kind = (error.scenario, error.category, error.code)
            seen = errors.get(kind)
            count = error.count + (seen.count if seen else 0)
            example = seen.example if seen else error.example
            errors[kind] = ErrorCount(*kind, count, example)
    return Measurements(
        scenarios,
        cells,
        tuple(errors[k] for k in sorted(errors)),
        sum(p.warmup_iterations for p in parts),
        sum(p.interrupted for p in parts),
        sum(p.offered for p in parts),
        max(p.max_start_lag for p in parts),
        max(p.window for p in parts),
    )
