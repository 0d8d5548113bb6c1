"""Retry budgets: retries as a bounded fraction of calls, per target.

A token bucket in integer milli-tokens (exact arithmetic): every call deposits
``ratio`` tokens, every retry costs one, a small floor (``min_per_second``) keeps a
low-traffic target able to retry, and the bucket holds at most ``max_tokens``. Over
any run, ``retries <= max_tokens + ratio * calls + min_per_second * elapsed`` — so a
failing dependency cannot cause a retry storm, whatever the failure pattern.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from bastion._core._clock import Clock, current_clock

__all__ = ["RetryBudget", "RetryBudgetStatistics", "retry_budget"]

_SCALE = 1000  # milli-tokens


@dataclass(frozen=True, slots=True)
class RetryBudgetStatistics:
    """A snapshot of one retry budget."""

    target: str
    calls: int
    retries: int
    denied: int
    tokens: float


def _non_negative(name: str, value: float) -> float:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class RetryBudget:
    """Allow retries while the target's token bucket holds a whole token.

    ``ratio=0.2`` allows one retry per five calls in steady state (Envoy's and
    Finagle's default); ``max_tokens`` bounds the burst after a quiet spell.
    """

    __slots__ = (
        "_calls",
        "_calls_seen",
        "_clock",
        "_denied",
        "_last",
        "_lock",
        "_max",
        "_per_second",
        "_ratio",
        "_retries",
        "_tokens",
        "target",
    )

    def __init__(
        self,
        target: str = "default",
        *,
        ratio: float = 0.2,
        min_per_second: float = 0.1,
        max_tokens: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        if _non_negative("max_tokens", max_tokens) < 1:
            raise ValueError(f"max_tokens must be >= 1 (one retry), got {max_tokens!r}")
        self.target = target
        self._ratio = round(_non_negative("ratio", ratio) * _SCALE)
        self._per_second = _non_negative("min_per_second", min_per_second) * _SCALE
        self._max = round(max_tokens * _SCALE)
        self._tokens = self._max
        self._clock = clock
        self._last: float | None = None
        self._calls = self._calls_seen = self._retries = self._denied = 0
        self._lock = threading.Lock()

    def record_call(self) -> None:
        """Count one call to the target (deposits ``ratio`` tokens). Cheap: the hot path."""
        self._calls += 1

    def _refill(self) -> None:
        calls = self._calls
        tokens = self._tokens + (calls - self._calls_seen) * self._ratio
        self._calls_seen = calls
        now = (self._clock or current_clock()).now()
        if self._last is not None and now > self._last:
            tokens += int((now - self._last) * self._per_second)
        self._last = now
        self._tokens = min(self._max, tokens)

    def try_spend(self) -> bool:
        """Take one token for a retry; ``False`` (and counted) if the budget is spent."""
        with self._lock:
            self._refill()
            if self._tokens >= _SCALE:
                self._tokens -= _SCALE
                self._retries += 1
                return True
            self._denied += 1
            return False

    def statistics(self) -> RetryBudgetStatistics:
        """Calls, retries granted, retries denied and the tokens left."""
        with self._lock:
            self._refill()
            return RetryBudgetStatistics(
                self.target, self._calls, self._retries, self._denied, self._tokens / _SCALE
            )

    def __repr__(self) -> str:
        return f"<RetryBudget {self.target!r} tokens={self._tokens / _SCALE:g}>"


_budgets: dict[str, RetryBudget] = {}
_budgets_lock = threading.Lock()


def retry_budget(target: str) -> RetryBudget:
    """The process-wide budget of ``target``, created with the defaults on first use."""
    budget = _budgets.get(target)
    if budget is None:
        with _budgets_lock:
            budget = _budgets.setdefault(target, RetryBudget(target))
    return budget
