"""Retry: classified, budgeted, exponential backoff with full jitter, on tenacity.

The delays come from :class:`bastion.Backoff`, the same computation supervisors use for
restarts (one model, one set of parameter names).

The success path is one ``try`` around the call and a counter increment. Only after a
failure that deserves a retry is a ``tenacity.Retrying`` (or ``AsyncRetrying``) built;
its first "attempt" re-raises the failure already seen, so tenacity drives attempts
2..n with our predicate, wait, stop (attempts, deadline, budget) and sleep.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar, cast

import tenacity

from bastion._core import _event_names, _events
from bastion._core._backoff import Backoff
from bastion._core._clock import Clock, current_clock
from bastion._core._durations import positive_seconds
from bastion._core._errors import Category, ExpectedError
from bastion.resilience._budget import RetryBudget, retry_budget
from bastion.resilience._classify import normalize
from bastion.resilience._errors import RetryBudgetExhausted
from bastion.telemetry import _hooks

__all__ = ["Retry", "instant_retries", "is_retryable"]

P = ParamSpec("P")
R = TypeVar("R")
RetryOn = tuple[type[BaseException], ...] | Callable[[BaseException], bool]

_testing = False


def _set_instant(enabled: bool) -> bool:
    """Switch instant retries on or off; returns the previous setting."""
    global _testing
    previous, _testing = _testing, bool(enabled)
    return previous


@contextlib.contextmanager
def instant_retries(enabled: bool = True) -> Iterator[None]:
    """Within the block, every retry waits zero seconds (for tests).

    Attempts, budgets and classification still apply: the same decisions, no sleeping.
    """
    previous = _set_instant(enabled)
    try:
        yield
    finally:
        _set_instant(previous)


_NEVER = (Category.VALIDATION, Category.BUSINESS)


def is_retryable(exc: BaseException, on: RetryOn | None = None) -> bool:
    """Whether ``exc`` may be retried.

    Never: cancellation and other non-``Exception`` errors, and anything that
    normalizes to a validation or business error — whatever ``on`` says. Otherwise,
    with ``on`` (exception types or a predicate) that decides; by default only
    retryable infrastructure errors are retried.
    """
    if not isinstance(exc, Exception) or isinstance(exc, ExpectedError):
        return False
    err = normalize(exc)
    if err.category in _NEVER:
        return False
    if on is None:
        return err.category is Category.INFRASTRUCTURE and err.retryable
    if isinstance(on, tuple):
        return isinstance(exc, on)
    return bool(on(exc))


class Retry:
    """A retry policy; use it as a decorator or through :meth:`call` / :meth:`acall`.

    The sleep after failed attempt ``n`` is ``backoff.delay(n)`` (:class:`bastion.Backoff`;
    default ``Backoff(initial=0.1, maximum=5.0, multiplier=2.0, jitter=1.0)``, full
    jitter ``U(0, min(5, 0.1 * 2**(n-1)))``). Retrying stops
    after ``attempts`` attempts, when the next sleep would pass ``deadline`` seconds
    after the first failure, or when the target's :class:`RetryBudget` is spent
    (:class:`RetryBudgetExhausted`, the last error chained). Otherwise the last error
    is re-raised unchanged.
    """

    def __init__(
        self,
        *,
        attempts: int = 3,
        backoff: Backoff | None = None,
        deadline: float = 30.0,
        on: RetryOn | None = None,
        target: str | None = None,
        budget: RetryBudget | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise ValueError(f"attempts must be an int >= 1, got {attempts!r}")
        self.attempts = attempts
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a bastion.Backoff, got {backoff!r}")
        self.backoff = backoff or Backoff(initial=0.1, maximum=5.0, multiplier=2.0, jitter=1.0)
        self.deadline = positive_seconds("deadline", deadline)
        if on is not None and not (isinstance(on, tuple) or callable(on)):
            raise TypeError(f"on must be a tuple of exception types or a predicate, got {on!r}")
        self.on = on
        self.target = target
        self.budget = budget
        self._clock = clock
        self._sleep = sleep

    def delay(self, attempt: int) -> float:
        """The sleep after failed attempt number ``attempt`` (1-based), jitter included."""
        return 0.0 if _testing else self.backoff.delay(attempt)

    def _budget_for(self, fn: Callable[..., Any]) -> tuple[str, RetryBudget]:
        target = self.target or getattr(fn, "__qualname__", None) or repr(fn)
        return target, self.budget or retry_budget(target)

    # -- the slow path: tenacity -------------------------------------------------------

    def _options(self, target: str, budget: RetryBudget) -> dict[str, Any]:
        clock = self._clock or current_clock()
        started = clock.now()
        on = self.on

        def emit(rs: tenacity.RetryCallState, outcome: str) -> None:
            failed = rs.outcome is not None and rs.outcome.failed
            exc = rs.outcome.exception() if failed else None  # type: ignore[union-attr]
            _events.emit(
                _event_names.RETRY_ATTEMPT,
                {"attempt": rs.attempt_number, "delay": rs.upcoming_sleep},
                {"target": target, "outcome": outcome, "error": exc and type(exc).__name__},
            )
            _hooks.count("bastion_retry_attempts", target, outcome)

        def should_retry(rs: tenacity.RetryCallState) -> bool:
            if rs.outcome is None or not rs.outcome.failed:
                emit(rs, "success")
                return False
            if is_retryable(rs.outcome.exception(), on):  # type: ignore[arg-type]
                return True
            emit(rs, "not_retryable")
            return False

        def stop(rs: tenacity.RetryCallState) -> bool:
            if rs.attempt_number >= self.attempts:
                return self._give_up(rs, emit, "attempts")
            if clock.now() + rs.upcoming_sleep > started + self.deadline:
                return self._give_up(rs, emit, "deadline")
            if not budget.try_spend():
                emit(rs, "budget_exhausted")
                _hooks.count("bastion_retry_budget_refusals", target)
                last = rs.outcome.exception() if rs.outcome is not None else None
                raise RetryBudgetExhausted(
                    f"retry budget of {target!r} is spent after attempt {rs.attempt_number}",
                    context={"target": target, "attempts": rs.attempt_number},
                ) from last
            emit(rs, "retry")
            return False

        return {
            "retry": should_retry,
            "wait": lambda rs: self.delay(rs.attempt_number),
            "stop": stop,
            "reraise": True,
        }

    @staticmethod
    def _give_up(
        rs: tenacity.RetryCallState,
        emit: Callable[[tenacity.RetryCallState, str], None],
        reason: str,
    ) -> bool:
        emit(rs, f"gave_up_{reason}")
        exc = rs.outcome.exception() if rs.outcome is not None else None
        if exc is not None:
            exc.add_note(f"bastion retry: gave up after {rs.attempt_number} attempt(s) ({reason})")
        return True

    def _retry_sync(
        self, fn: Callable[..., R], args: Any, kwargs: Any, first: Exception, budget: RetryBudget,
        target: str,
    ) -> R:  # fmt: skip
        pending = [first]

        def attempt() -> R:
            if pending:
                raise pending.pop()
            return fn(*args, **kwargs)

        def sleep(delay: float) -> None:
            if delay > 0:
                self._sleep(delay)

        return tenacity.Retrying(sleep=sleep, **self._options(target, budget))(attempt)

    async def _retry_async(
        self, fn: Callable[..., Awaitable[R]], args: Any, kwargs: Any, first: Exception,
        budget: RetryBudget, target: str,
    ) -> R:  # fmt: skip
        pending = [first]
        clock = self._clock or current_clock()

        async def attempt() -> R:
            if pending:
                raise pending.pop()
            return await fn(*args, **kwargs)

        async def sleep(delay: float) -> None:
            if delay > 0:
                await clock.sleep(delay)

        retrying = tenacity.AsyncRetrying(sleep=sleep, **self._options(target, budget))
        return cast(R, await retrying(attempt))

    # -- the fast path ------------------------------------------------------------------

    def call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call ``fn(*args, **kwargs)`` with retries."""
        target, budget = self._budget_for(fn)
        budget.record_call()
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not is_retryable(exc, self.on):
                raise
            first = exc
        return self._retry_sync(fn, args, kwargs, first, budget, target)

    async def acall(self, fn: Callable[P, Awaitable[R]], *args: P.args, **kwargs: P.kwargs) -> R:
        """Await ``fn(*args, **kwargs)`` with retries (sleeping on the clock)."""
        target, budget = self._budget_for(fn)
        budget.record_call()
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            if not is_retryable(exc, self.on):
                raise
            first = exc
        return await self._retry_async(fn, args, kwargs, first, budget, target)

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate ``fn`` (sync or ``async def``); its budget is resolved once, here."""
        target, budget = self._budget_for(fn)
        on = self.on
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[P, Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                budget._calls += 1  # RetryBudget.record_call, inlined on the hot path
                try:
                    return await afn(*args, **kwargs)
                except Exception as exc:
                    if not is_retryable(exc, on):
                        raise
                    first = exc
                return await self._retry_async(afn, args, kwargs, first, budget, target)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            budget._calls += 1  # RetryBudget.record_call, inlined on the hot path
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_retryable(exc, on):
                    raise
                first = exc
            return self._retry_sync(fn, args, kwargs, first, budget, target)

        return wrapper
