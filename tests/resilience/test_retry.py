"""Retry: classified, exponential with jitter, deadline, budget, telemetry, test switch."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion import Backoff, BusinessError, InfrastructureError, ValidationError
from bastion.resilience import (
    CircuitOpen,
    DatabaseError,
    NetworkError,
    Retry,
    RetryBudget,
    RetryBudgetExhausted,
    instant_retries,
    is_retryable,
)
from bastion.testing import capture_events
from tests.resilience.conftest import FakeClock


def _budget(clock: FakeClock) -> RetryBudget:
    return RetryBudget("test", max_tokens=1000, clock=clock)


class Flaky:
    """Fails with the given errors in order, then returns ``"ok"``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _policy(clock: FakeClock, **kw: object) -> Retry:
    options: dict[str, object] = {
        "clock": clock, "sleep": clock.sleep_sync, "budget": _budget(clock),
        "backoff": Backoff(initial=0.1, maximum=5.0, jitter=1.0, seed=1),
    }  # fmt: skip
    options.update(kw)
    return Retry(**options)  # type: ignore[arg-type]


def test_infrastructure_errors_are_retried_until_success(clock: FakeClock) -> None:
    fn = Flaky(ConnectionResetError("reset"), NetworkError("down"))
    assert _policy(clock, attempts=3).call(fn) == "ok"
    assert fn.calls == 3
    assert len(clock.slept) == 2


def test_backoff_is_exponential_capped_and_jittered(clock: FakeClock) -> None:
    exact = _policy(clock, backoff=Backoff(initial=0.1, maximum=0.3, jitter=0.0))
    assert [exact.delay(n) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.3, 0.3])
    jittered = _policy(clock)
    for attempt in range(1, 10):
        cap = min(5.0, 0.1 * 2 ** (attempt - 1))
        samples = [jittered.delay(attempt) for _ in range(50)]
        assert all(0 <= s <= cap for s in samples)
        assert len(set(samples)) > 1


def test_sleeps_follow_the_policy(clock: FakeClock) -> None:
    fn = Flaky(*(NetworkError("down") for _ in range(3)))
    _policy(clock, attempts=4, backoff=Backoff(initial=1.0, maximum=3.0, jitter=0.0)).call(fn)
    assert clock.slept == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "exc",
    [ValidationError("bad"), BusinessError("no"), KeyError("bug"), CircuitOpen("open"),
     DatabaseError("fatal", retryable=False), RetryBudgetExhausted("spent")],
)  # fmt: skip
def test_non_retryable_errors_are_raised_at_once(clock: FakeClock, exc: Exception) -> None:
    fn = Flaky(exc)
    with pytest.raises(type(exc)) as info:
        _policy(clock).call(fn)
    assert info.value is exc
    assert fn.calls == 1
    assert clock.slept == []


def test_cancellation_is_never_retried(clock: FakeClock) -> None:
    fn = Flaky(NetworkError("down"), asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        _policy(clock, attempts=5).call(fn)
    assert fn.calls == 2


def test_on_widens_to_other_errors_but_never_to_business_or_validation(clock: FakeClock) -> None:
    fn = Flaky(KeyError("flaky lib"))
    assert _policy(clock, on=(KeyError,)).call(fn) == "ok"
    assert fn.calls == 2
    fn = Flaky(BusinessError("no"))
    with pytest.raises(BusinessError):
        _policy(clock, on=(BusinessError,)).call(fn)
    assert fn.calls == 1
    assert not is_retryable(ValidationError("v"), lambda _: True)


def test_attempts_exhausted_reraises_the_last_error_with_a_note(clock: FakeClock) -> None:
    errors = [NetworkError(f"down {i}") for i in range(3)]
    fn = Flaky(*errors)
    with pytest.raises(NetworkError) as info:
        _policy(clock, attempts=3).call(fn)
    assert info.value is errors[2]
    assert any("gave up after 3 attempt(s) (attempts)" in n for n in info.value.__notes__)


def test_deadline_stops_retrying(clock: FakeClock) -> None:
    fn = Flaky(*(NetworkError("down") for _ in range(10)))
    policy = _policy(
        clock, attempts=10, backoff=Backoff(initial=1.0, maximum=1.0, jitter=0.0), deadline=3.5
    )
    with pytest.raises(NetworkError) as info:
        policy.call(fn)
    assert fn.calls == 4  # sleeps of 1 s at t+0, 1, 2; the next would end past 3.5 s
    assert any("(deadline)" in n for n in info.value.__notes__)


def test_budget_exhaustion_stops_a_retry_storm(clock: FakeClock) -> None:
    budget = RetryBudget("storm", ratio=0.1, min_per_second=0.0, max_tokens=2, clock=clock)
    policy = _policy(clock, attempts=5, budget=budget)
    retries_before_denial = 0
    for _ in range(20):
        fn = Flaky(*(NetworkError("down") for _ in range(5)))
        with pytest.raises((NetworkError, RetryBudgetExhausted)) as info:
            policy.call(fn)
        if isinstance(info.value, RetryBudgetExhausted):
            assert isinstance(info.value.__cause__, NetworkError)
        retries_before_denial += fn.calls - 1
    stats = budget.statistics()
    assert stats.calls == 20
    assert stats.retries == retries_before_denial <= 2 + 0.1 * 20
    assert stats.denied >= 1


def test_instant_retries_switch_skips_every_sleep(clock: FakeClock) -> None:
    with instant_retries():
        fn = Flaky(*(NetworkError("down") for _ in range(4)))
        slow = Backoff(initial=10.0, maximum=60.0, jitter=1.0)
        assert _policy(clock, attempts=5, backoff=slow).call(fn) == "ok"
    assert clock.slept == []
    _policy(clock, attempts=2, backoff=slow).call(Flaky(NetworkError("down")))
    assert len(clock.slept) == 1  # switched off again on leaving the block


def test_retry_emits_telemetry_per_attempt(clock: FakeClock) -> None:
    fn = Flaky(NetworkError("a"), NetworkError("b"))
    with capture_events(("bastion", "retry", "attempt")) as captured:
        _policy(clock, attempts=3, target="inventory").call(fn)
    events = captured.named("bastion", "retry", "attempt")
    assert [e.metadata["outcome"] for e in events] == ["retry", "retry", "success"]
    assert [e.measurements["attempt"] for e in events] == [1, 2, 3]
    assert {e.metadata["target"] for e in events} == {"inventory"}
    assert events[0].metadata["error"] == "NetworkError"


def test_decorator_and_bad_input(clock: FakeClock) -> None:
    fn = Flaky(NetworkError("down"))

    @Retry(attempts=2, clock=clock, sleep=clock.sleep_sync, budget=_budget(clock))
    def wrapped() -> str:
        return fn()

    assert wrapped() == "ok"
    for bad in ({"attempts": 0}, {"attempts": 1.5}, {"deadline": 0},
                {"deadline": float("inf")}):  # fmt: skip
        with pytest.raises(ValueError, match="must be"):
            Retry(**bad)  # type: ignore[arg-type]
    for bad_backoff in ({"initial": -1}, {"maximum": 0.01, "initial": 0.1},
                        {"multiplier": 0.5}, {"jitter": 2}):  # fmt: skip
        with pytest.raises(ValueError, match="must be"):
            Backoff(**bad_backoff)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"bastion\.Backoff"):
        Retry(backoff=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tuple of exception types or a predicate"):
        Retry(on="NetworkError")  # type: ignore[arg-type]


@pytest.mark.bastion(real_time=False)  # asserts exact virtual-time readings
async def test_async_retry_sleeps_on_the_clock() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    calls = 0

    @Retry(attempts=4, backoff=Backoff(initial=1.0, maximum=10.0, jitter=0.0),
           budget=RetryBudget("async", max_tokens=100))  # fmt: skip
    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConnectionResetError("reset")
        return "ok"

    assert await fetch() == "ok"
    assert loop.time() - started == pytest.approx(1.0 + 2.0 + 4.0)  # virtual time


async def test_async_retry_never_retries_business_errors() -> None:
    calls = 0

    async def charge() -> None:
        nonlocal calls
        calls += 1
        raise BusinessError("declined")

    with pytest.raises(BusinessError):
        await Retry(attempts=5).acall(charge)
    assert calls == 1


_ERRORS = st.sampled_from(
    [lambda: NetworkError("n"), lambda: ConnectionResetError("c"), lambda: TimeoutError("t"),
     lambda: DatabaseError("d"), lambda: ValidationError("v"), lambda: BusinessError("b"),
     lambda: InfrastructureError("i")]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(errors=st.lists(_ERRORS, min_size=1, max_size=8), attempts=st.integers(1, 10),
       widen=st.booleans())  # fmt: skip
def test_property_never_retries_a_business_or_validation_error(
    errors: list[object], attempts: int, widen: bool
) -> None:
    clock = FakeClock()
    raised = [make() for make in errors]  # type: ignore[operator]
    fn = Flaky(*raised)
    on = (lambda _: True) if widen else None
    policy = _policy(clock, attempts=attempts, on=on)
    final: BaseException | None = None
    try:
        policy.call(fn)
    except (ValidationError, BusinessError, InfrastructureError, ConnectionError,
            TimeoutError) as exc:  # fmt: skip
        final = exc
    if isinstance(final, ValidationError | BusinessError):
        # the call that raised it was the last one: it was never retried
        assert raised.index(final) == fn.calls - 1
    expected_calls = attempts
    for i, exc in enumerate(raised):
        if isinstance(exc, ValidationError | BusinessError):
            expected_calls = min(expected_calls, i + 1)
            break
    else:
        expected_calls = min(attempts, len(raised) + 1)
    assert fn.calls == expected_calls


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.lists(st.tuples(st.integers(0, 6), st.floats(0, 30)), min_size=1, max_size=60),
    ratio=st.sampled_from([0.0, 0.1, 0.2, 0.5]),
    per_second=st.sampled_from([0.0, 0.1, 1.0]),
    max_tokens=st.integers(1, 5),
)
def test_property_budget_bounds_retries_under_any_failure_pattern(
    pattern: list[tuple[int, float]], ratio: float, per_second: float, max_tokens: int
) -> None:
    clock = FakeClock()
    start = clock.now()
    budget = RetryBudget("p", ratio=ratio, min_per_second=per_second, max_tokens=max_tokens,
                         clock=clock)  # fmt: skip
    policy = Retry(attempts=7, clock=clock, sleep=clock.sleep_sync, budget=budget)
    for failures, pause in pattern:
        clock.advance(pause)
        fn = Flaky(*(NetworkError("down") for _ in range(failures)))
        with contextlib.suppress(NetworkError, RetryBudgetExhausted):
            policy.call(fn)
        stats = budget.statistics()
        elapsed = clock.now() - start
        assert stats.retries <= max_tokens + ratio * stats.calls + per_second * elapsed + 1e-9
