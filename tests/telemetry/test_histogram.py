"""The log-linear histogram: bounded relative error, fixed memory, snapshots."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.telemetry import LogLinearHistogram


def _exact(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=1e-6, max_value=3000.0), min_size=1, max_size=300),
    st.sampled_from([0, 1, 25, 50, 90, 99, 99.9, 100]),
)
def test_every_percentile_is_within_one_percent(values: list[float], p: float) -> None:
    histogram = LogLinearHistogram()
    for value in values:
        histogram.record(value)
    exact = _exact(values, p)
    assert abs(histogram.snapshot().percentile(p) - exact) <= 0.01 * exact


def test_memory_is_fixed_whatever_the_number_of_samples() -> None:
    histogram = LogLinearHistogram()
    rng = random.Random(7)
    for _ in range(50_000):
        histogram.record(rng.lognormvariate(-7, 2))
    # values far outside the range, each with its own key: merged, not kept one by one
    for exponent in range(-126, 128):
        histogram.record(math.ldexp(1.0, exponent))
        histogram.record(-math.ldexp(1.5, exponent))
    snap = histogram.snapshot()
    assert len(histogram._pending) == 0  # the buffer is counted, never grows
    assert len(histogram._keys) <= 2 * 2048 + 256
    assert snap.count == 50_000 + 2 * 254
    assert len(snap.counts) <= len(histogram.counts()) == 2048
    low, high = histogram.bucket_bounds(0), histogram.bucket_bounds(2047)
    assert snap.bounds[0] == low[1]
    assert snap.bounds[-1] == high[1]


def test_zero_negative_and_huge_values_are_clamped_but_summed() -> None:
    histogram = LogLinearHistogram()
    for value in (0.0, -1.0, 1e9):
        histogram.record(value)
    snap = histogram.snapshot()
    assert snap.count == 3
    assert snap.sum == pytest.approx(1e9 - 1.0)
    assert snap.percentile(0) < 1e-5
    assert snap.max > 4000


def test_minus_gives_the_values_recorded_since_the_earlier_snapshot() -> None:
    histogram = LogLinearHistogram()
    histogram.record(0.001)
    before = histogram.snapshot()
    histogram.record(0.5)
    histogram.record(0.5)
    since = histogram.snapshot().minus(before)
    assert since.count == 2
    assert since.percentile(1) == pytest.approx(0.5, rel=0.01)


def test_cumulative_buckets_for_prometheus_le_bounds() -> None:
    histogram = LogLinearHistogram()
    for value in (0.002, 0.02, 0.2, 2.0):
        histogram.record(value)
    assert histogram.snapshot().cumulative((0.01, 0.1, 1.0, 10.0)) == (1, 2, 3, 4)


@pytest.mark.parametrize("bad", [-1, 101, "50", True])
def test_a_bad_percentile_is_a_value_error(bad: object) -> None:
    snap = LogLinearHistogram().snapshot()
    with pytest.raises(ValueError, match="percentile"):
        snap.percentile(bad)  # type: ignore[arg-type]


def test_empty_snapshot_reads_zero() -> None:
    snap = LogLinearHistogram().snapshot()
    assert (snap.count, snap.percentile(99), snap.mean, snap.max) == (0, 0.0, 0.0, 0.0)


def test_values_beyond_single_precision_are_counted_in_the_last_bucket() -> None:
    histogram = LogLinearHistogram()
    for value in (1e300, math.inf, math.nan, -1e300, 5e-324):
        histogram.record(value)
    counts = histogram.counts()
    assert counts[-1] == 3  # 1e300, inf, nan
    assert counts[0] == 2  # negative, and a value below the range
    assert sum(counts) == 5


@pytest.mark.parametrize(("lowest", "highest"), [(-127, 12), (-20, 128), (5, 5)])
def test_a_range_outside_single_precision_is_refused(lowest: int, highest: int) -> None:
    with pytest.raises(ValueError, match="lowest_exponent"):
        LogLinearHistogram(lowest, highest)


def test_a_non_number_is_refused_by_name_and_the_rest_of_its_batch_is_kept() -> None:
    histogram = LogLinearHistogram()
    for _ in range(10):
        histogram.record(0.001)
    histogram.record("slow")  # type: ignore[arg-type]
    histogram.record(0.002)
    with pytest.raises(TypeError, match=r"real numbers.*'slow'"):
        histogram.fold()
    snapshot = histogram.snapshot()
    assert snapshot.count == 11
    assert snapshot.sum == pytest.approx(0.012)
