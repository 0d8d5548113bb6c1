"""The result of a load test: per-scenario and overall statistics, a per-second series,
threshold verdicts; as a frozen dataclass, a JSON-ready dict, or an HTML report.

Latencies are reported in **milliseconds** (keys end in ``_ms``); they are percentiles
of successful iterations, read from log-linear histograms (< 1 % relative error).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bastion._core._histogram import EMPTY_SNAPSHOT, HistogramSnapshot, merge
from bastion.loadtest._recorder import Cell, Measurements
from bastion.loadtest._thresholds import Threshold, ThresholdResult

__all__ = [
    "ChaosEvent",
    "LatencySummary",
    "LoadTestResult",
    "ScenarioStats",
    "SecondStats",
    "WorkerReport",
    "summarise",
]

MS = 1000.0


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Latency percentiles of successful iterations, in milliseconds."""

    p50_ms: float
    p90_ms: float
    p99_ms: float
    p99_9_ms: float
    max_ms: float
    mean_ms: float
    min_ms: float

    @classmethod
    def of(cls, snapshot: HistogramSnapshot) -> LatencySummary:
        """Percentiles of a histogram of seconds, converted to milliseconds."""
        p50, p90, p99, p999 = (round(snapshot.percentile(p) * MS, 4) for p in (50, 90, 99, 99.9))
        return cls(
            p50_ms=p50,
            p90_ms=p90,
            p99_ms=p99,
            p99_9_ms=p999,
            max_ms=round(snapshot.max * MS, 4),
            mean_ms=round(snapshot.mean * MS, 4),
            min_ms=round(snapshot.min * MS, 4),
        )


@dataclass(frozen=True, slots=True)
class ScenarioStats:
    """One scenario's (or, named ``"all"``, every scenario's) results."""

    name: str
    iterations: int
    ok: int
    failed: int
    error_rate: float
    throughput: float  # iterations per second of the recorded window
    latency: LatencySummary
    errors_by_category: dict[str, int]
    histogram: HistogramSnapshot = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class SecondStats:
    """One second of the recorded window (all scenarios)."""

    second: int
    iterations: int
    failed: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True, slots=True)
class ChaosEvent:
    """One fault chaos mode injected, and what followed it."""

    at: float  # seconds into the recorded window (negative: during warmup)
    kind: str  # "kill", "store_slow", "store_fail", "drop_cast"
    target: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """How one worker process of a ``workers=N`` run ended."""

    worker: int
    exit_code: int | None
    reported: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LoadTestResult:
    """Everything a load test measured; ``passed`` is False when a threshold failed."""

    model: str
    duration: float
    overall: ScenarioStats
    scenarios: tuple[ScenarioStats, ...]
    series: tuple[SecondStats, ...]
    thresholds: tuple[ThresholdResult, ...]
    warmup_iterations: int
    interrupted: int
    offered: int
    max_start_lag_ms: float
    errors: tuple[dict[str, Any], ...]
    chaos: tuple[ChaosEvent, ...] = ()
    chaos_summary: dict[str, Any] = field(default_factory=dict)
    workers: tuple[WorkerReport, ...] = ()
    around_faults: tuple[dict[str, Any], ...] = ()
    leaked: dict[str, int] = field(default_factory=dict)  # actors/tasks left, then stopped

    @property
    def passed(self) -> bool:
        """Every threshold held, no worker process was lost, chaos lost no accepted work."""
        workers_lost = any(not w.reported for w in self.workers)
        work_lost = bool(self.chaos_summary.get("lost"))
        return all(t.passed for t in self.thresholds) and not workers_lost and not work_lost

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (latencies in ms, rates per second, histograms omitted)."""
        out = {
            "passed": self.passed,
            "model": self.model,
            "duration_s": self.duration,
            "latency_unit": "ms",
            "overall": _stats_dict(self.overall),
            "scenarios": [_stats_dict(s) for s in self.scenarios],
            "series": [asdict(s) for s in self.series],
            "thresholds": [
                {"threshold": t.threshold.text, "value": t.value, "passed": t.passed}
                for t in self.thresholds
            ],
            "warmup_iterations": self.warmup_iterations,
            "interrupted": self.interrupted,
            "offered": self.offered,
            "max_start_lag_ms": self.max_start_lag_ms,
            "errors": list(self.errors),
            "chaos": [asdict(e) for e in self.chaos],
            "chaos_summary": self.chaos_summary,
            "around_faults": list(self.around_faults),
            "leaked": self.leaked,
            "workers": [asdict(w) for w in self.workers],
        }
        return out

    def to_json(self) -> str:
        """:meth:`as_dict` as a JSON string."""
        return json.dumps(self.as_dict(), sort_keys=True)

    def write_html(self, path: str | Path, *, title: str = "Bastion load test") -> Path:
        """Write the self-contained HTML report (inline SVG charts, no network)."""
        from bastion.loadtest._html import render_html

        target = Path(path)
        target.write_text(render_html(self, title=title), encoding="utf-8")
        return target


def _stats_dict(stats: ScenarioStats) -> dict[str, Any]:
    data = {k: v for k, v in asdict(stats).items() if k != "histogram"}
    return data


def _stats(name: str, cells: Sequence[Cell], window: float) -> ScenarioStats:
    histogram = merge([c.latency for c in cells]) if cells else EMPTY_SNAPSHOT
    ok = sum(c.ok for c in cells)
    failed = sum(c.failed for c in cells)
    total = ok + failed
    return ScenarioStats(
        name=name,
        iterations=total,
        ok=ok,
        failed=failed,
        error_rate=failed / total if total else 0.0,
        throughput=total / window if window > 0 else 0.0,
        latency=LatencySummary.of(histogram),
        errors_by_category={},
        histogram=histogram,
    )


def _with_categories(stats: ScenarioStats, by_category: dict[str, int]) -> ScenarioStats:
    return ScenarioStats(
        stats.name,
        stats.iterations,
        stats.ok,
        stats.failed,
        stats.error_rate,
        stats.throughput,
        stats.latency,
        dict(sorted(by_category.items())),
        stats.histogram,
    )


def summarise(
    measurements: Measurements,
    *,
    model: str,
    thresholds: Sequence[Threshold] = (),
    chaos: Sequence[ChaosEvent] = (),
    chaos_summary: dict[str, Any] | None = None,
    workers: Sequence[WorkerReport] = (),
) -> LoadTestResult:
    """Turn raw measurements into a :class:`LoadTestResult` and judge the thresholds."""
    window = measurements.window
    names = measurements.scenarios
    per: list[ScenarioStats] = []
    for index, name in enumerate(names):
        cells = [c for c in measurements.cells if c.scenario == index]
        categories: dict[str, int] = {}
        for error in measurements.errors:
            if error.scenario == index:
                categories[error.category] = categories.get(error.category, 0) + error.count
        per.append(_with_categories(_stats(name, cells, window), categories))
    overall_categories: dict[str, int] = {}
    for stats in per:
        for category, count in stats.errors_by_category.items():
            overall_categories[category] = overall_categories.get(category, 0) + count
    overall = _with_categories(_stats("all", measurements.cells, window), overall_categories)
    verdicts = tuple(_judge(t, overall, per) for t in thresholds)
    return LoadTestResult(
        model=model,
        duration=round(window, 6),
        overall=overall,
        scenarios=tuple(per),
        series=_series(measurements.cells),
        thresholds=verdicts,
        warmup_iterations=measurements.warmup_iterations,
        interrupted=measurements.interrupted,
        offered=measurements.offered,
        max_start_lag_ms=round(measurements.max_start_lag * MS, 4),
        errors=tuple(
            {
                "scenario": names[e.scenario],
                "category": e.category,
                "code": e.code,
                "count": e.count,
                "example": e.example,
            }
            for e in measurements.errors
        ),
        chaos=tuple(chaos),
        chaos_summary=dict(chaos_summary or {}),
        workers=tuple(workers),
        around_faults=_around_faults(measurements.cells, chaos),
    )


AROUND = 2  # seconds after a fault (and before it, for comparison) shown in the report
MAX_FAULTS_SHOWN = 200


def _around_faults(
    cells: Sequence[Cell], events: Sequence[ChaosEvent]
) -> tuple[dict[str, Any], ...]:
    """Errors and latency in the seconds after each fault, against the seconds before."""
    by_second: dict[int, list[Cell]] = {}
    for cell in cells:
        by_second.setdefault(cell.second, []).append(cell)

    def window(first: int, last: int) -> tuple[int, int, float]:
        group = [c for s in range(first, last) for c in by_second.get(s, [])]
        histogram = merge([c.latency for c in group]) if group else EMPTY_SNAPSHOT
        total = sum(c.ok + c.failed for c in group)
        return total, sum(c.failed for c in group), round(histogram.percentile(99) * MS, 4)

    out = []
    for event in events[:MAX_FAULTS_SHOWN]:
        second = int(event.at // 1)
        _, errors_before, p99_before = window(second - AROUND, second)
        iterations, errors_after, p99_after = window(second, second + AROUND)
        out.append(
            {
                "at": event.at,
                "kind": event.kind,
                "target": event.target,
                "iterations_after": iterations,
                "errors_before": errors_before,
                "errors_after": errors_after,
                "p99_before_ms": p99_before,
                "p99_after_ms": p99_after,
            }
        )
    return tuple(out)


def _series(cells: Sequence[Cell]) -> tuple[SecondStats, ...]:
    seconds: dict[int, list[Cell]] = {}
    for cell in cells:
        seconds.setdefault(cell.second, []).append(cell)
    out = []
    for second in range(min(seconds, default=0), max(seconds, default=-1) + 1):
        group = seconds.get(second, [])
        histogram = merge([c.latency for c in group]) if group else EMPTY_SNAPSHOT
        out.append(
            SecondStats(
                second=second,
                iterations=sum(c.ok + c.failed for c in group),
                failed=sum(c.failed for c in group),
                p50_ms=round(histogram.percentile(50) * MS, 4),
                p99_ms=round(histogram.percentile(99) * MS, 4),
                max_ms=round(histogram.max * MS, 4),
            )
        )
    return tuple(out)


def metric_value(metric: str, stats: ScenarioStats) -> float:
    """The value of a threshold metric for ``stats``, in base units (seconds, fraction)."""
    histogram = stats.histogram
    if metric.startswith("p"):
        return histogram.percentile(float(metric[1:]))
    values = {
        "max": histogram.max,
        "min": histogram.min,
        "mean": histogram.mean,
        "error_rate": stats.error_rate,
        "errors": float(stats.failed),
        "rate": stats.throughput,
        "iterations": float(stats.iterations),
    }
    return values[metric]


def _judge(
    threshold: Threshold, overall: ScenarioStats, per: Sequence[ScenarioStats]
) -> ThresholdResult:
    stats = overall
    if threshold.scenario is not None:
        stats = next(s for s in per if s.name == threshold.scenario)
    value = metric_value(threshold.metric, stats)
    return ThresholdResult(threshold, value, threshold.holds(value))
