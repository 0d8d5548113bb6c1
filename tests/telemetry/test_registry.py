"""The metrics registry: definitions, labels, the cardinality guard, reading, windows."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.telemetry import MetricKind, MetricsRegistry, UnknownMetric


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(clock: FakeClock) -> MetricsRegistry:
    return MetricsRegistry(clock)


def test_collect_returns_frozen_families_with_samples(registry: MetricsRegistry) -> None:
    jobs = registry.counter("app_jobs", "Jobs done.", labels=("queue",))
    jobs.labels("fast").inc()
    jobs.labels("fast").inc(2)
    depth = registry.gauge("app_depth", "Depth.")
    depth.inc(5)
    depth.dec(2)
    registry.histogram("app_wait_seconds", "Wait.").record(0.25)
    families = {f.name: f for f in registry.collect()}
    assert families["app_jobs"].kind is MetricKind.COUNTER
    assert families["app_jobs"].sample(queue="fast").value == 3.0
    assert families["app_depth"].samples[0].value == 3.0
    wait = families["app_wait_seconds"].samples[0]
    assert wait.histogram is not None
    assert wait.histogram.count == 1
    assert wait.histogram.percentile(50) == pytest.approx(0.25, rel=0.01)
    with pytest.raises(AttributeError):
        families["app_jobs"].name = "x"  # type: ignore[misc]


def test_an_unknown_metric_is_a_key_error_naming_the_known_ones(
    registry: MetricsRegistry,
) -> None:
    registry.counter("app_jobs", "Jobs.")
    with pytest.raises(UnknownMetric, match=r"no metric named 'app_job'.*app_jobs") as info:
        registry.family("app_job")
    assert isinstance(info.value, KeyError)
    with pytest.raises(KeyError):
        registry.window("nope", 10)


def test_the_label_budget_folds_extras_into_other_and_warns_once(
    registry: MetricsRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    users = registry.counter("app_requests", "Requests.", labels=("user",), max_series=3)
    with caplog.at_level(logging.WARNING, logger="bastion.metrics"):
        for user in range(10):
            users.labels(f"u{user}").inc()
    family = registry.family("app_requests")
    assert len(family.samples) == 4
    assert family.sample(user="other").value == 7
    assert family.total() == 10
    warnings = [r for r in caplog.records if "app_requests" in r.getMessage()]
    assert len(warnings) == 1
    assert registry.family("bastion_metric_series_folded").sample(metric="app_requests").value == 7


def test_bad_definitions_and_label_counts_are_value_errors(registry: MetricsRegistry) -> None:
    with pytest.raises(ValueError, match="metric name"):
        registry.counter("bad name", "x")
    with pytest.raises(ValueError, match="description"):
        registry.counter("app_x", "")
    with pytest.raises(TypeError):
        registry.counter("app_x", "x", labels="queue")
    metric = registry.counter("app_x", "x", labels=("a", "b"))
    with pytest.raises(ValueError, match="takes labels"):
        metric.labels("only-one")
    with pytest.raises(ValueError, match=r"use \.labels"):
        metric.inc()
    with pytest.raises(ValueError, match="another shape"):
        registry.gauge("app_x", "x")
    assert registry.counter("app_x", "x", labels=("a", "b")) is metric
    with pytest.raises(ValueError, match="only goes up"):
        metric.labels("1", "2").inc(-1)
    registry.gauge("app_level", "x").inc(-3)  # a gauge may go down


def test_windows_follow_the_clock_and_report_the_span_covered(
    registry: MetricsRegistry, clock: FakeClock
) -> None:
    jobs = registry.counter("app_jobs", "Jobs.")
    wait = registry.histogram("app_wait_seconds", "Wait.")
    jobs.inc(100)
    wait.record(2.0)
    clock.now = 100.0
    registry.tick()  # a reader (e.g. a HealthMonitor) looked at t=100
    jobs.inc(30)
    wait.record(0.01)
    clock.now = 110.0
    reading = registry.window("app_jobs", 10)
    assert (reading.delta, reading.seconds, reading.rate) == (30, 10.0, 3.0)
    recent = registry.window("app_wait_seconds", 10)
    assert recent.histogram is not None
    assert recent.histogram.count == 1
    assert recent.histogram.percentile(99) == pytest.approx(0.01, rel=0.01)
    everything = registry.window("app_wait_seconds", 300)
    assert everything.seconds == 110.0  # the registry is younger than the window
    assert everything.delta == 2


def test_window_label_filters_and_bad_windows(registry: MetricsRegistry) -> None:
    calls = registry.counter("app_calls", "Calls.", labels=("outcome",))
    calls.labels("ok").inc(3)
    calls.labels("crash").inc(1)
    assert registry.window("app_calls", 60, {"outcome": "crash"}).delta == 1
    with pytest.raises(ValueError, match="no label"):
        registry.window("app_calls", 60, {"nope": "x"})
    with pytest.raises(ValueError, match="window seconds"):
        registry.window("app_calls", 0)


@settings(max_examples=60, deadline=None)
@given(
    # reads more than _MIN_REFRESH apart, so each snapshot holds every earlier increment
    st.lists(st.tuples(st.floats(0.1, 20.0), st.integers(0, 5)), min_size=1, max_size=120),
    st.sampled_from([10.0, 60.0, 300.0]),
)
def test_a_window_counts_exactly_the_increments_in_the_span_it_reports(
    events: list[tuple[float, int]], seconds: float
) -> None:
    clock = FakeClock()
    registry = MetricsRegistry(clock)
    jobs = registry.counter("app_jobs", "Jobs.")
    history = []
    for gap, amount in events:
        clock.now += gap
        jobs.inc(amount)
        history.append((clock.now, amount))
        registry.tick()  # a periodic reader
    reading = registry.window("app_jobs", seconds)
    start = clock.now - reading.seconds
    assert reading.delta == sum(amount for at, amount in history if at > start + 1e-9)
    assert reading.seconds >= min(seconds, clock.now)  # never less than asked (or the age)
    assert reading.seconds <= seconds + 20.0 + 10.0  # at most one read gap + one spacing more
