"""Percentiles against exact ones, failures by category, windows, arrival rate (virtual time)."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable

import pytest

import bastion
from bastion import loadtest as lt
from bastion.testing import VirtualClock

# The histogram reports a bucket's midpoint: relative error < 1/128 (docs/observability.md).
HISTOGRAM_ERROR = 1 / 128


def exact_percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile, the definition the histogram follows."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def sleeper(latencies: list[float]) -> lt.Scenario:
    """A scenario whose n-th iteration takes latencies[n] seconds (virtual)."""
    feed = iter(latencies)

    async def work(user: lt.User) -> None:
        await asyncio.sleep(next(feed))  # noqa: BAS601 -- simulated service time, virtual

    return lt.Scenario("work", work)


@pytest.mark.parametrize(
    "distribution",
    [
        pytest.param(lambda r: r.uniform(0.001, 0.5), id="uniform-1ms-500ms"),
        pytest.param(lambda r: r.expovariate(1 / 0.02), id="exponential-mean-20ms"),
        pytest.param(lambda r: r.lognormvariate(math.log(0.005), 1.0), id="lognormal"),
    ],
)
async def test_percentiles_match_exact_ones_within_the_histogram_error(
    distribution: Callable[[random.Random], float],
) -> None:
    rng = random.Random(42)
    latencies = [max(1e-5, distribution(rng)) for _ in range(5000)]
    result = await lt.run(
        sleeper(latencies), load=lt.ClosedModel(users=1), iterations=len(latencies)
    )
    assert result.overall.iterations == len(latencies)
    summary = result.overall.latency
    for p, reported in [(50, summary.p50_ms), (90, summary.p90_ms), (99, summary.p99_ms),
                        (99.9, summary.p99_9_ms), (100, summary.max_ms)]:  # fmt: skip
        exact = exact_percentile(latencies, p) * 1000
        assert abs(reported - exact) <= exact * HISTOGRAM_ERROR + 1e-3, (p, reported, exact)
    assert summary.mean_ms == pytest.approx(sum(latencies) / len(latencies) * 1000, abs=1e-4)


async def test_returned_and_raised_errors_are_failures_by_category() -> None:
    outcomes = iter(
        [
            None,
            ValueError("returned, not raised"),
            ("error", "out of stock"),
            "fine",
            ("ok", 1),
        ]
    )

    async def returns(user: lt.User) -> object:
        return next(outcomes)

    raised = iter([bastion.BusinessError("declined"), KeyError("a bug"), TimeoutError()])

    async def raises(user: lt.User) -> object:
        raise next(raised)

    result = await lt.run(
        lt.LoadTest([lt.Scenario("returns", returns)]),
        load=lt.ClosedModel(users=1),
        iterations=5,
    )
    stats = result.scenarios[0]
    assert (stats.ok, stats.failed) == (3, 2)
    assert stats.errors_by_category == {"business": 1, "system": 1}
    codes = {e["code"] for e in result.errors}
    assert codes == {"returned_error", "unexpected_error"}

    result = await lt.run(raises, load=lt.ClosedModel(users=1), iterations=3)
    assert result.overall.failed == 3
    assert result.overall.errors_by_category == {
        "business": 1,
        "infrastructure": 1,
        "system": 1,
    }


async def test_a_custom_failure_predicate_decides_what_a_returned_value_means() -> None:
    async def status(user: lt.User) -> int:
        return 500 if user.state.setdefault("n", 0) % 2 else 200

    async def count(user: lt.User) -> int:
        user.state["n"] = user.state.get("n", 0) + 1
        return await status(user)

    def http_failure(value: object) -> BaseException | None:
        return lt.ReturnedError(f"status {value}") if value == 500 else None

    result = await lt.run(
        lt.LoadTest([lt.Scenario("get", count)], failure=http_failure),
        load=lt.ClosedModel(users=1),
        iterations=10,
    )
    assert (result.overall.ok, result.overall.failed) == (5, 5)


async def test_an_iteration_past_its_timeout_is_cancelled_and_counted(clock: VirtualClock) -> None:
    async def hangs(user: lt.User) -> None:
        await asyncio.Event().wait()

    result = await lt.run(hangs, load=lt.ClosedModel(users=2), duration=10.0, timeout=2.0)
    # each user: iterations at 0, 2, 4, 6, 8 -> ten timeouts, none left running
    assert result.overall.failed == 10
    assert result.errors[0]["code"] == "iteration_timeout"
    assert result.overall.errors_by_category == {"infrastructure": 10}


async def test_warmup_is_not_recorded_and_the_window_is_exact(clock: VirtualClock) -> None:
    async def tenth(user: lt.User) -> None:
        await asyncio.sleep(0.1)  # noqa: BAS601 -- simulated service time, virtual

    start = clock.now()
    result = await lt.run(
        tenth, load=lt.ClosedModel(users=1), duration=5.0, warmup=2.0, cooldown=1.0
    )
    assert result.warmup_iterations == 20
    assert result.overall.iterations == 50
    assert result.duration == 5.0
    assert result.overall.throughput == pytest.approx(10.0)
    assert [s.iterations for s in result.series] == [10] * 5
    assert clock.now() - start == pytest.approx(7.0)  # the last one ends with the window


async def test_ramp_up_spreads_the_users_starts(clock: VirtualClock) -> None:
    async def second(user: lt.User) -> None:
        await asyncio.sleep(1.0)  # noqa: BAS601 -- simulated service time, virtual

    result = await lt.run(second, load=lt.ClosedModel(users=4, ramp_up=4.0), duration=4.0)
    # user n starts at n seconds: 1, 2, 3, 4 users busy in seconds 0..3
    assert [s.iterations for s in result.series] == [1, 2, 3, 4]


async def test_cooldown_drains_in_flight_work_then_cancels_the_rest(clock: VirtualClock) -> None:
    durations = iter([4.5, 3.0])

    async def slow(user: lt.User) -> None:
        await asyncio.sleep(next(durations, 100.0))  # noqa: BAS601 -- service time, virtual

    # started at 0 (4.5 s) and at 4.5 (3 s, past the window end at 5): drained by 7.5
    drained = await lt.run(slow, load=lt.ClosedModel(users=1), duration=5.0, cooldown=5.0)
    assert (drained.overall.ok, drained.interrupted) == (2, 0)
    assert drained.overall.latency.max_ms == pytest.approx(4500, rel=HISTOGRAM_ERROR)

    durations = iter([4.5, 3.0])
    start = clock.now()
    cut = await lt.run(slow, load=lt.ClosedModel(users=1), duration=5.0, cooldown=1.0)
    assert (cut.overall.ok, cut.interrupted) == (1, 1)
    assert clock.now() - start == pytest.approx(6.0)


async def test_nothing_starts_after_the_window_and_think_time_is_not_waited_out(
    clock: VirtualClock,
) -> None:
    async def quick(user: lt.User) -> None:
        await asyncio.sleep(0.5)  # noqa: BAS601 -- simulated service time, virtual

    start = clock.now()
    result = await lt.run(
        quick, load=lt.ClosedModel(users=3, think_time=10.0), duration=2.0, cooldown=5.0
    )
    assert result.overall.iterations == 3  # one each, then thinking when the window closed
    assert clock.now() - start == pytest.approx(2.0)


async def test_open_model_reaches_its_arrival_rate(clock: VirtualClock) -> None:
    async def fast(user: lt.User) -> None:
        await asyncio.sleep(0.0005)  # noqa: BAS601 -- a fast target, virtual

    result = await lt.run(fast, load=lt.OpenModel(rate=1000, max_in_flight=20), duration=10.0)
    assert result.overall.iterations == pytest.approx(10_000, rel=0.02)
    assert result.overall.throughput == pytest.approx(1000, rel=0.02)
    assert all(s.iterations == pytest.approx(1000, rel=0.02) for s in result.series)
    assert result.offered == result.overall.iterations
    assert result.duration == 10.0  # the slots end with the last arrival; the window does not


async def test_ramping_arrival_rate_follows_its_stages(clock: VirtualClock) -> None:
    async def fast(user: lt.User) -> None:
        await asyncio.sleep(0.001)  # noqa: BAS601 -- a fast target, virtual

    model = lt.OpenModel(rate=100, ramp_up=10.0, stages=[lt.Stage(10.0, 300)])
    result = await lt.run(fast, load=model, duration=20.0)
    # 0 -> 100/s over 10 s (500), then 100 -> 300/s over 10 s (2000)
    assert result.overall.iterations == pytest.approx(2500, rel=0.02)
    series = [s.iterations for s in result.series]
    assert series[0] < series[9] < series[19]


async def test_weights_share_the_iterations() -> None:
    async def a(user: lt.User) -> None:
        return None

    async def b(user: lt.User) -> None:
        return None

    result = await lt.run(
        [lt.Scenario("a", a, 3), lt.Scenario("b", b, 1)],
        load=lt.ClosedModel(users=2),
        iterations=8000,
        seed=1,
    )
    counts = {s.name: s.iterations for s in result.scenarios}
    assert counts["a"] + counts["b"] == 8000
    assert counts["a"] / 8000 == pytest.approx(0.75, abs=0.02)


async def test_actor_calls_are_scenarios(rt: bastion.Runtime) -> None:
    class Pricer(bastion.Actor):
        def handle_call(self, item: str) -> float:
            if item == "unknown":
                raise bastion.BusinessError("no such item")
            return 9.99

    ref = await rt.spawn(Pricer, name="pricer")
    result = await lt.run(
        [lt.call_actor("pricer", "tea", weight=9), lt.call_actor("pricer", "unknown", label="bad")],
        load=lt.ClosedModel(users=4),
        iterations=1000,
        runtime=rt,
        seed=3,
    )
    stats = {s.name: s for s in result.scenarios}
    assert stats["call pricer"].failed == 0
    assert stats["bad"].failed == stats["bad"].iterations > 0
    assert stats["bad"].errors_by_category == {"business": stats["bad"].failed}
    await ref.stop()
