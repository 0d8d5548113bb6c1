"""Small statistics helpers shared by the benchmarks (stdlib only)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (``q`` in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[rank]


def summary_us(samples_s: Sequence[float]) -> dict[str, float]:
    """Median and p99 in microseconds of samples given in seconds."""
    ordered = sorted(samples_s)
    return {
        "median": round(statistics.median(ordered) * 1e6, 3),
        "p99": round(percentile(ordered, 99) * 1e6, 3),
    }
