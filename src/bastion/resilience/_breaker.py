"""The circuit breaker: closed / open / half-open over a sliding window.

The protected call runs in the caller's task (or thread); the breaker only grants a
permit before and records the outcome after, each under a short lock that is never
held across an ``await``. Permits carry the breaker's generation: an outcome from a
call admitted before the last state change is ignored (counted as ``late``), so a
slow call admitted while closed cannot close a breaker that tripped since.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

from bastion._core import _event_names, _events
from bastion._core._clock import Clock, current_clock
from bastion._core._durations import positive_seconds
from bastion._core._errors import Category
from bastion.resilience._classify import normalize
from bastion.resilience._errors import CircuitOpen
from bastion.resilience._window import FAILED, SLOW, CountWindow, TimeWindow
from bastion.telemetry import _hooks

__all__ = ["BreakerStatistics", "CircuitBreaker", "BreakerState"]

P = ParamSpec("P")
R = TypeVar("R")


class BreakerState(enum.StrEnum):
    """A breaker's state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_STATE_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}  # bastion_breaker_state


@dataclass(frozen=True, slots=True)
class BreakerStatistics:
    """A snapshot of one breaker. Window figures cover the current sliding window."""

    name: str
    state: BreakerState
    window_calls: int
    window_failures: int
    window_slow_calls: int
    failure_rate: float
    slow_call_rate: float
    successes: int
    failures: int
    rejected: int
    late: int
    times_opened: int
    probes_in_flight: int
    retry_after: float


def default_is_failure(exc: BaseException) -> bool:
    """Count infrastructure and system errors; business/validation errors are answers."""
    return normalize(exc).category not in (Category.VALIDATION, Category.BUSINESS)


def _rate(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and 0 < value <= 1):
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return float(value)


def _seconds(name: str, value: float) -> float:
    return positive_seconds(name, value)


class CircuitBreaker:
    """Stop calling a failing dependency; probe it again after ``open_for`` seconds.

    Closed: calls pass; once the window holds ``minimum_calls`` calls and the failure
    rate reaches ``failure_rate`` (or the slow-call rate ``slow_call_rate``; a call is
    slow after ``slow_call_duration`` s) the breaker opens. Open: calls fail fast with
    :class:`CircuitOpen` for ``open_for`` s. Half-open: at most ``half_open_probes``
    calls are admitted, however many callers race; one bad probe reopens it, that many
    good ones close it. Failures are exceptions for which ``is_failure`` is true (by
    default: not business/validation errors, never cancellation) and results for
    which ``failure_result`` is true. All time is read from ``clock``.
    """

    def __init__(
        self,
        name: str,
        *,
        window: CountWindow | TimeWindow | None = None,
        minimum_calls: int = 10,
        failure_rate: float = 0.5,
        slow_call_rate: float = 1.0,
        slow_call_duration: float = 60.0,
        open_for: float = 30.0,
        half_open_probes: int = 1,
        is_failure: Callable[[BaseException], bool] = default_is_failure,
        failure_result: Callable[[Any], bool] | None = None,
        clock: Clock | None = None,
    ) -> None:
        counts = (("minimum_calls", minimum_calls), ("half_open_probes", half_open_probes))
        for key, count in counts:
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ValueError(f"{key} must be an int >= 1, got {count!r}")
        if window is not None and not isinstance(window, CountWindow | TimeWindow):
            raise TypeError(f"window must be a CountWindow or TimeWindow, got {window!r}")
        self.name = name
        self.window = window or CountWindow()
        self.minimum_calls = minimum_calls
        self.failure_rate = _rate("failure_rate", failure_rate)
        self.slow_call_rate = _rate("slow_call_rate", slow_call_rate)
        self.slow_call_duration = _seconds("slow_call_duration", slow_call_duration)
        self.open_for = _seconds("open_for", open_for)
        self.half_open_probes = half_open_probes
        self.is_failure = is_failure
        self.failure_result = failure_result
        self._clock = clock
        self._lock = threading.Lock()
        self._recorder = self.window.recorder()
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._opened_at = 0.0
        self._granted = self._in_flight = self._probe_successes = 0
        self._successes = self._failures = self._rejected = self._late = self._opened = 0

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker turns half-open on the next call)."""
        return self._state

    # -- permits and outcomes -----------------------------------------------------------

    def _admit(self, now: float) -> int:
        """Grant a permit (returns its generation) or raise :class:`CircuitOpen`."""
        change = None
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return self._generation
            if self._state is BreakerState.OPEN and now >= self._opened_at + self.open_for:
                change = self._move(BreakerState.HALF_OPEN, now)
            if self._state is BreakerState.HALF_OPEN and self._granted < self.half_open_probes:
                self._granted += 1
                self._in_flight += 1
                generation = self._generation
            else:
                self._rejected += 1
                generation = -1
                state, retry_after = self._state, self._retry_after(now)
        if change is not None:
            self._emit_change(*change)
        if generation < 0:
            _events.emit(
                _event_names.BREAKER_REJECTED, {"retry_after": retry_after}, {"name": self.name}
            )
            _hooks.count("bastion_breaker_rejections", self.name)
            raise CircuitOpen(
                f"circuit {self.name!r} is {state}",
                context={"breaker": self.name, "state": str(state), "retry_after": retry_after},
            )
        return generation

    def _complete(self, generation: int, outcome: int | None, now: float) -> None:
        """Record a permit's outcome (``None``: cancelled or ignored)."""
        change = None
        with self._lock:
            if generation != self._generation:
                self._late += 1
                return
            if outcome is not None:
                if outcome & FAILED:
                    self._failures += 1
                else:
                    self._successes += 1
            if self._state is BreakerState.CLOSED:
                change = self._record_closed(outcome, now)
            elif self._state is BreakerState.HALF_OPEN:
                change = self._record_probe(outcome, now)
        if change is not None:
            self._emit_change(*change)

    def _record_closed(self, outcome: int | None, now: float) -> tuple[Any, ...] | None:
        if outcome is None:
            return None
        recorder = self._recorder
        recorder.record(outcome, now)
        calls = recorder.calls
        if calls < self.minimum_calls:
            return None
        if (
            recorder.failures >= self.failure_rate * calls
            or recorder.slow >= self.slow_call_rate * calls
        ):
            return self._move(BreakerState.OPEN, now)
        return None

    def _record_probe(self, outcome: int | None, now: float) -> tuple[Any, ...] | None:
        self._in_flight -= 1
        if outcome is None:  # a cancelled probe frees its permit
            self._granted -= 1
            return None
        if outcome:  # failed or slow: a single probe is a 100% rate
            return self._move(BreakerState.OPEN, now)
        self._probe_successes += 1
        if self._probe_successes >= self.half_open_probes:
            return self._move(BreakerState.CLOSED, now)
        return None

    def _move(self, to: BreakerState, now: float) -> tuple[Any, ...]:
        """Change state (lock held); returns what to emit once the lock is released."""
        recorder = self._recorder
        calls = recorder.calls
        rates = (recorder.failures / calls, recorder.slow / calls) if calls else (0.0, 0.0)
        before, self._state = self._state, to
        self._generation += 1
        self._granted = self._in_flight = self._probe_successes = 0
        recorder.reset()
        if to is BreakerState.OPEN:
            self._opened_at = now
            self._opened += 1
        return (before, to, rates)

    def _emit_change(
        self, before: BreakerState, to: BreakerState, rates: tuple[float, float]
    ) -> None:
        _events.emit(
            _event_names.BREAKER_STATE_CHANGE,
            {"failure_rate": rates[0], "slow_call_rate": rates[1]},
            {"name": self.name, "from": str(before), "to": str(to)},
        )
        _hooks.count("bastion_breaker_transitions", self.name, before, to)
        _hooks.set_gauge("bastion_breaker_state", _STATE_VALUES.get(str(to), -1.0), self.name)

    def _retry_after(self, now: float) -> float:
        if self._state is BreakerState.OPEN:
            return max(0.0, self._opened_at + self.open_for - now)
        return 0.0

    def _outcome_of_error(self, exc: BaseException, started: float, now: float) -> int | None:
        if not isinstance(exc, Exception):
            return None  # cancellation and exits say nothing about the dependency
        slow = SLOW if now - started >= self.slow_call_duration else 0
        return (FAILED if self.is_failure(exc) else 0) | slow

    def _outcome_of_result(self, result: object, started: float, now: float) -> int:
        slow = SLOW if now - started >= self.slow_call_duration else 0
        check = self.failure_result
        return (FAILED if check is not None and check(result) else 0) | slow

    # -- calling ------------------------------------------------------------------------

    async def call(self, fn: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R:
        """Await ``fn(*args, **kwargs)`` in the caller's task through the breaker."""
        # the loop's clock is current_clock() here; read it without building a LoopClock
        now = self._clock.now if self._clock is not None else asyncio.get_running_loop().time
        started = now()
        generation = self._admit(started)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            ended = now()
            self._complete(generation, self._outcome_of_error(exc, started, ended), ended)
            raise
        ended = now()
        self._complete(generation, self._outcome_of_result(result, started, ended), ended)
        return result

    def call_sync(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)`` in the calling thread through the breaker."""
        now = (self._clock or current_clock()).now
        started = now()
        generation = self._admit(started)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            ended = now()
            self._complete(generation, self._outcome_of_error(exc, started, ended), ended)
            raise
        ended = now()
        self._complete(generation, self._outcome_of_result(result, started, ended), ended)
        return result

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` (sync or ``async def``) to run through this breaker."""
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[P, Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                return await self.call(afn, *args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return self.call_sync(fn, *args, **kwargs)

        return wrapper

    # -- operations ---------------------------------------------------------------------

    def reset(self) -> None:
        """Force the breaker closed with an empty window (manual recovery)."""
        self._force(BreakerState.CLOSED)

    def trip(self) -> None:
        """Force the breaker open now (manual isolation of a dependency)."""
        self._force(BreakerState.OPEN)

    def _force(self, to: BreakerState) -> None:
        now = (self._clock or current_clock()).now()
        with self._lock:
            change = self._move(to, now)
        self._emit_change(*change)

    def statistics(self) -> BreakerStatistics:
        """A snapshot of state, window and lifetime counters."""
        now = (self._clock or current_clock()).now()
        with self._lock:
            rec = self._recorder
            rec.expire(now)
            calls = rec.calls
            return BreakerStatistics(
                name=self.name,
                state=self._state,
                window_calls=calls,
                window_failures=rec.failures,
                window_slow_calls=rec.slow,
                failure_rate=rec.failures / calls if calls else 0.0,
                slow_call_rate=rec.slow / calls if calls else 0.0,
                successes=self._successes,
                failures=self._failures,
                rejected=self._rejected,
                late=self._late,
                times_opened=self._opened,
                probes_in_flight=self._in_flight,
                retry_after=self._retry_after(now),
            )

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._state}>"
