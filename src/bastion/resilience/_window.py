"""Sliding windows of call outcomes for the circuit breaker (count- or time-based)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from bastion._core._durations import positive_seconds

__all__ = ["CountWindow", "Recorder", "TimeWindow"]

FAILED, SLOW = 1, 2  # outcome bits


@dataclass(frozen=True, slots=True)
class CountWindow:
    """The last ``size`` calls."""

    size: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 1:
            raise ValueError(f"CountWindow size must be an int >= 1, got {self.size!r}")

    def recorder(self) -> Recorder:
        """A fresh recorder for this window."""
        return _CountRecorder(self.size)


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The calls of the last ``seconds``, in ``buckets`` equal buckets."""

    seconds: float = 60.0
    buckets: int = 60

    def __post_init__(self) -> None:
        positive_seconds("TimeWindow seconds", self.seconds)
        if not isinstance(self.buckets, int) or self.buckets < 1:
            raise ValueError(f"TimeWindow buckets must be an int >= 1, got {self.buckets!r}")

    def recorder(self) -> Recorder:
        """A fresh recorder for this window."""
        return _TimeRecorder(self.seconds / self.buckets, self.buckets)


class Recorder:
    """Running totals over a window: ``calls``, ``failures``, ``slow``."""

    __slots__ = ()
    calls: int
    failures: int
    slow: int

    def record(self, outcome: int, now: float) -> None:
        """Add one call with ``outcome`` bits (``FAILED``, ``SLOW``) at time ``now``."""
        raise NotImplementedError

    def expire(self, now: float) -> None:
        """Drop what fell out of the window by ``now``."""

    def reset(self) -> None:
        """Forget everything."""
        raise NotImplementedError


class _CountRecorder(Recorder):
    __slots__ = ("_next", "_ring", "calls", "failures", "slow")

    def __init__(self, size: int) -> None:
        self._ring: list[int | None] = [None] * size
        self.reset()

    def reset(self) -> None:
        self._ring = [None] * len(self._ring)
        self._next = 0
        self.calls = self.failures = self.slow = 0

    def record(self, outcome: int, now: float) -> None:
        old = self._ring[self._next]
        if old is None:
            self.calls += 1
        else:
            self.failures -= old & FAILED
            self.slow -= (old & SLOW) >> 1
        self._ring[self._next] = outcome
        self.failures += outcome & FAILED
        self.slow += (outcome & SLOW) >> 1
        self._next = (self._next + 1) % len(self._ring)


class _TimeRecorder(Recorder):
    __slots__ = ("_buckets", "_count", "_width", "calls", "failures", "slow")

    def __init__(self, width: float, count: int) -> None:
        self._width = width
        self._count = count
        self._buckets: deque[list[int]] = deque()  # [index, calls, failures, slow]
        self.calls = self.failures = self.slow = 0

    def reset(self) -> None:
        self._buckets.clear()
        self.calls = self.failures = self.slow = 0

    def expire(self, now: float) -> None:
        oldest = math.floor(now / self._width) - self._count + 1
        buckets = self._buckets
        while buckets and buckets[0][0] < oldest:
            _, calls, failures, slow = buckets.popleft()
            self.calls -= calls
            self.failures -= failures
            self.slow -= slow

    def record(self, outcome: int, now: float) -> None:
        self.expire(now)
        index = math.floor(now / self._width)
        buckets = self._buckets
        if not buckets or buckets[-1][0] < index:
            buckets.append([index, 0, 0, 0])
        bucket = buckets[-1]  # a clock never runs backwards; late results go to the newest
        failed, slow = outcome & FAILED, (outcome & SLOW) >> 1
        bucket[1] += 1
        bucket[2] += failed
        bucket[3] += slow
        self.calls += 1
        self.failures += failed
        self.slow += slow
