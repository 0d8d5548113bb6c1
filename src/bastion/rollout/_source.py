"""Per-tick counts per cohort, read from the runtime's metrics (``rt.metrics``).

The orchestrator keeps the cumulative totals it last read (its *cursor*, persisted with
its state) and feeds the machine the difference, so no event is counted twice or lost
across ticks, orchestrator restarts or a lost tick. A total that went *down* means the
process restarted and its counters began again at zero: the new total is the delta.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bastion._core._histogram import HistogramSnapshot, merge
from bastion._core._metric_types import MetricFamily, UnknownMetric
from bastion.rollout._model import CohortCounts
from bastion.rollout._plan import RolloutPlan

__all__ = ["ERROR_OUTCOMES", "EXPOSURE_OUTCOMES", "CountsSource", "MetricsSource", "delta"]

#: Call outcomes that count as errors: unexpected crashes and infrastructure failures.
#: ``expected_error`` (business and validation errors) never counts.
ERROR_OUTCOMES = frozenset({"crash", "timeout", "not_alive"})
#: Call outcomes that count as exposure (a cancelled caller saw no answer at all).
EXPOSURE_OUTCOMES = ERROR_OUTCOMES | {"ok", "expected_error"}


class Registry(Protocol):
    """What the source needs of ``rt.metrics``."""

    def family(self, name: str) -> MetricFamily:
        """One metric's samples."""
        ...


class CountsSource(Protocol):
    """Cumulative totals ``[calls, errors, slow, restarts]`` of a cohort, and the
    baseline's latency percentile that defines a slow call."""

    def totals(self, plan: RolloutPlan, cohort: str, slow_above: float | None) -> list[int]:
        """Totals since the process started."""
        ...

    def latency_percentile(self, cohort: str, percentile: float) -> tuple[float, int]:
        """``(value, calls)`` of the cohort's call latency so far."""
        ...


class MetricsSource:
    """Reads ``bastion_calls``, ``bastion_call_duration_seconds`` and
    ``bastion_restarts`` (restarts under the plan's canary / baseline supervisors)."""

    def __init__(self, metrics: Registry) -> None:
        self.metrics = metrics

    def _family(self, name: str) -> MetricFamily | None:
        try:
            return self.metrics.family(name)
        except UnknownMetric:
            return None  # metrics off, or nothing registered yet: no counts

    def _durations(self, cohort: str) -> HistogramSnapshot | None:
        family = self._family("bastion_call_duration_seconds")
        if family is None:
            return None
        index = family.label_names.index("cohort")
        snaps = [
            s.histogram
            for s in family.samples
            if s.label_values[index] == cohort and s.histogram is not None
        ]
        return merge(snaps) if snaps else None

    def totals(self, plan: RolloutPlan, cohort: str, slow_above: float | None) -> list[int]:
        """``[calls, errors, slow, restarts]`` of ``cohort`` since the process started."""
        calls = errors = slow = restarts = 0
        family = self._family("bastion_calls")
        if family is not None:
            outcome_at = family.label_names.index("outcome")
            cohort_at = family.label_names.index("cohort")
            for sample in family.samples:
                if sample.label_values[cohort_at] != cohort:
                    continue
                outcome = sample.label_values[outcome_at]
                if outcome in EXPOSURE_OUTCOMES:
                    calls += int(sample.value)
                if outcome in ERROR_OUTCOMES:
                    errors += int(sample.value)
        if slow_above is not None:
            durations = self._durations(cohort)
            if durations is not None:
                slow = durations.count - durations.cumulative([slow_above])[0]
        supervisors = plan.canary_supervisors if cohort == plan.canary else ()
        if cohort == plan.baseline:
            supervisors = plan.baseline_supervisors
        if supervisors:
            family = self._family("bastion_restarts")
            if family is not None:
                at = family.label_names.index("supervisor")
                restarts = int(
                    sum(s.value for s in family.samples if s.label_values[at] in supervisors)
                )
        return [calls, errors, slow, restarts]

    def latency_percentile(self, cohort: str, percentile: float) -> tuple[float, int]:
        """``(value, calls)``: the cohort's latency percentile over every call so far."""
        durations = self._durations(cohort)
        if durations is None or not durations.count:
            return 0.0, 0
        return durations.percentile(percentile), durations.count


def delta(now: Sequence[int], before: Sequence[int]) -> CohortCounts:
    """``now - before`` per counter; a counter that went down restarted from zero."""
    calls, errors, slow, restarts = (
        n - b if n >= b else n for n, b in zip(now, before, strict=True)
    )
    return CohortCounts(calls, errors, slow, restarts)
