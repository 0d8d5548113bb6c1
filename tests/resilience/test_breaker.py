"""The circuit breaker: windows, thresholds, half-open probes, registry, telemetry."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bastion.testing
from bastion import BusinessError, ValidationError
from bastion.resilience import (
    BreakerRegistry,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    CountWindow,
    NetworkError,
    TimeWindow,
    circuit_breaker,
)
from bastion.testing import VirtualClock, capture_events
from tests.resilience.conftest import FakeClock


def _ok() -> str:
    return "ok"


def _down() -> str:
    raise NetworkError("down")


def _fail(breaker: CircuitBreaker, n: int = 1) -> None:
    for _ in range(n):
        with pytest.raises(NetworkError):
            breaker.call_sync(_down)


def _breaker(clock: FakeClock, **kw: object) -> CircuitBreaker:
    options: dict[str, object] = {
        "window": CountWindow(10), "minimum_calls": 4, "failure_rate": 0.5, "open_for": 30.0,
        "clock": clock,
    }  # fmt: skip
    options.update(kw)
    return CircuitBreaker("test", **options)  # type: ignore[arg-type]


def test_opens_at_the_failure_rate_after_the_minimum_calls(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    _fail(breaker, 3)
    assert breaker.state is BreakerState.CLOSED  # 3 calls < minimum_calls 4
    breaker.call_sync(_ok)
    assert breaker.state is BreakerState.OPEN  # the 4th call reaches minimum_calls: 3/4 >= 0.5
    stats = breaker.statistics()
    assert (stats.failures, stats.successes, stats.times_opened) == (3, 1, 1)


def test_count_window_trips_and_rejects_fast(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    breaker.call_sync(_ok)
    breaker.call_sync(_ok)
    _fail(breaker, 1)
    assert breaker.state is BreakerState.CLOSED  # 3 calls < 4
    _fail(breaker, 1)  # 2 of 4 failed: 50%
    assert breaker.state is BreakerState.OPEN
    called = []
    with pytest.raises(CircuitOpen) as info:
        breaker.call_sync(lambda: called.append(1))
    assert called == []
    assert info.value.context["retry_after"] == 30.0
    assert not info.value.retryable
    assert breaker.statistics().rejected == 1


def test_business_and_validation_errors_do_not_count(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    for exc in (BusinessError("no"), ValidationError("bad")) * 5:
        with pytest.raises(type(exc)):
            breaker.call_sync(lambda e=exc: (_ for _ in ()).throw(e))
    assert breaker.state is BreakerState.CLOSED
    assert breaker.statistics().failures == 0


def test_returned_error_results_can_count_as_failures(clock: FakeClock) -> None:
    breaker = _breaker(clock, failure_result=lambda r: isinstance(r, dict) and "error" in r)
    for _ in range(4):
        assert breaker.call_sync(lambda: {"error": "upstream 503"}) == {"error": "upstream 503"}
    assert breaker.state is BreakerState.OPEN


def test_slow_calls_trip_the_breaker(clock: FakeClock) -> None:
    breaker = _breaker(clock, slow_call_duration=2.0, slow_call_rate=0.75)

    def slow() -> str:
        clock.advance(2.5)
        return "late but ok"

    for _ in range(3):
        breaker.call_sync(slow)
    assert breaker.state is BreakerState.CLOSED
    breaker.call_sync(slow)
    assert breaker.state is BreakerState.OPEN
    assert breaker.statistics().failures == 0


def test_half_open_probe_success_closes_and_failure_reopens(clock: FakeClock) -> None:
    breaker = _breaker(clock, half_open_probes=2)
    _fail(breaker, 4)
    assert breaker.state is BreakerState.OPEN
    clock.advance(29.9)
    with pytest.raises(CircuitOpen):
        breaker.call_sync(_ok)
    clock.advance(0.1)
    assert breaker.call_sync(_ok) == "ok"
    assert breaker.state is BreakerState.HALF_OPEN
    _fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    assert breaker.statistics().times_opened == 2
    clock.advance(30)
    breaker.call_sync(_ok)
    breaker.call_sync(_ok)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.statistics().window_calls == 0


def test_time_window_forgets_old_failures(clock: FakeClock) -> None:
    breaker = _breaker(clock, window=TimeWindow(seconds=10, buckets=10), minimum_calls=3)
    _fail(breaker, 2)
    clock.advance(11)
    breaker.call_sync(_ok)
    _fail(breaker, 1)
    assert breaker.state is BreakerState.CLOSED  # 1 failure of 2 calls in the window < minimum
    stats = breaker.statistics()
    assert (stats.window_calls, stats.window_failures) == (2, 1)
    _fail(breaker, 1)
    assert breaker.state is BreakerState.OPEN


def test_manual_trip_and_reset_emit_state_changes(clock: FakeClock) -> None:
    breaker = _breaker(clock)
    with capture_events(("bastion", "breaker", "state_change")) as captured:
        breaker.trip()
        assert breaker.state is BreakerState.OPEN
        breaker.reset()
        _fail(breaker, 4)
    changes = [(e.metadata["from"], e.metadata["to"]) for e in captured]
    assert changes == [("closed", "open"), ("open", "closed"), ("closed", "open")]
    assert captured.events[-1].measurements["failure_rate"] == 1.0
    assert {e.metadata["name"] for e in captured} == {"test"}


async def test_the_protected_call_runs_in_the_callers_task() -> None:
    breaker = CircuitBreaker("caller-task")
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    me = asyncio.current_task()

    async def protected() -> tuple[asyncio.Task[object] | None, str]:
        return asyncio.current_task(), var.get()

    assert await breaker.call(protected) == (me, "caller")


async def test_late_results_from_before_a_trip_are_ignored() -> None:
    breaker = CircuitBreaker("late", window=CountWindow(4), minimum_calls=2, open_for=5.0)
    release = asyncio.Event()

    async def slow_success() -> str:
        await release.wait()
        return "ok"

    async def down() -> None:
        raise NetworkError("down")

    slow = asyncio.create_task(breaker.call(slow_success))
    await asyncio.sleep(0)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await breaker.call(down)
    assert breaker.state is BreakerState.OPEN
    release.set()
    assert await slow == "ok"
    assert breaker.state is BreakerState.OPEN
    assert breaker.statistics().late == 1


async def test_cancelled_probe_frees_its_permit() -> None:
    breaker = CircuitBreaker("cancel", minimum_calls=1, open_for=1.0, half_open_probes=1)
    breaker.trip()
    await VirtualClock().advance(1.0)
    never = asyncio.Event()
    probe = asyncio.create_task(breaker.call(never.wait))
    await asyncio.sleep(0)
    with pytest.raises(CircuitOpen):
        await breaker.call(asyncio.sleep, 0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await breaker.call(asyncio.sleep, 0, "probe") == "probe"
    assert breaker.state is BreakerState.CLOSED


@settings(max_examples=60, deadline=None)
@given(
    probes=st.integers(1, 5),
    callers=st.integers(1, 40),
    outcomes=st.lists(st.sampled_from(["ok", "fail", "cancel", "slowok"]), min_size=40,
                      max_size=40),
    delays=st.lists(st.sampled_from([0.0, 0.1, 0.5, 2.0]), min_size=40, max_size=40),
)  # fmt: skip
def test_property_half_open_never_admits_more_than_the_allowed_probes(
    probes: int, callers: int, outcomes: list[str], delays: list[float]
) -> None:
    async def main() -> None:
        breaker = CircuitBreaker("p", minimum_calls=1, open_for=1.0, half_open_probes=probes)
        breaker.trip()
        clock = VirtualClock()
        await clock.advance(1.0)
        in_flight = max_in_flight = admitted = cancelled = 0

        async def probe(i: int) -> str:
            nonlocal in_flight, max_in_flight, admitted
            in_flight += 1
            admitted += 1
            max_in_flight = max(max_in_flight, in_flight)
            try:
                await clock.sleep(delays[i])  # the probe's work takes this long
                if outcomes[i] == "fail":
                    raise NetworkError("down")
                return "ok"
            finally:
                in_flight -= 1

        async def caller(i: int) -> None:
            nonlocal cancelled
            task = asyncio.ensure_future(breaker.call(probe, i))
            if outcomes[i] == "cancel":
                await asyncio.sleep(0)
                task.cancel()
            try:
                await task
            except CircuitOpen:
                pass
            except NetworkError:
                pass
            except asyncio.CancelledError:
                cancelled += 1

        async with asyncio.TaskGroup() as group:
            for i in range(callers):
                group.create_task(caller(i))
        assert max_in_flight <= probes
        assert admitted <= probes + cancelled
        stats = breaker.statistics()
        assert stats.probes_in_flight == 0
        if stats.state is BreakerState.HALF_OPEN:
            assert stats.successes < probes

    bastion.testing.run(main, virtual=True)


def test_registry_names_breakers_and_refuses_conflicting_config() -> None:
    registry = BreakerRegistry()
    a = registry.get_or_create("payments", open_for=10.0)
    assert registry.get_or_create("payments") is a
    assert registry.get_or_create("payments", open_for=10.0) is a
    with pytest.raises(ValueError, match="exists with configuration"):
        registry.get_or_create("payments", open_for=99.0)
    assert registry.get("payments") is a
    with pytest.raises(KeyError, match="no circuit breaker named 'x'"):
        registry.get("x")
    assert registry.names() == ["payments"]
    assert registry.statistics()["payments"].state is BreakerState.CLOSED
    assert registry.remove("payments")
    assert not registry.remove("payments")
    with pytest.raises(TypeError, match="non-empty str"):
        registry.get_or_create("")
    assert circuit_breaker("global-one") is circuit_breaker("global-one")


def test_bad_configuration_is_a_clear_error() -> None:
    bads: list[dict[str, object]] = [
        {"minimum_calls": 0}, {"half_open_probes": 0}, {"failure_rate": 0},
        {"failure_rate": 1.5}, {"open_for": float("inf")}, {"slow_call_duration": -1},
    ]  # fmt: skip
    for bad in bads:
        with pytest.raises(ValueError, match="must be"):
            CircuitBreaker("bad", **bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="CountWindow or TimeWindow"):
        CircuitBreaker("bad", window=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        CountWindow(0)
    with pytest.raises(ValueError, match="seconds"):
        TimeWindow(seconds=0)


def test_decorator_for_sync_and_async(clock: FakeClock) -> None:
    breaker = _breaker(clock)

    @breaker
    def fetch() -> str:
        return "ok"

    assert fetch() == "ok"
    assert breaker.statistics().successes == 1
