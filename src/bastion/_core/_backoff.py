"""Exponential backoff: the one delay computation of supervisor restarts and retries.

``Backoff`` is used by supervisors (the delay before restarting a child) and by
:class:`bastion.resilience.Retry` (the sleep before the next attempt). One model, one
set of parameter names:

* the cap for attempt ``n`` (1-based) is ``min(maximum, initial * multiplier**(n-1))``;
* ``jitter`` is the fraction of the cap drawn at random: the delay is uniform in
  ``[cap * (1 - jitter), cap]``. ``jitter=0`` is exact, ``jitter=1`` is "full jitter"
  ``U(0, cap)`` (what retries use by default, so clients that failed together do not
  retry together). The delay never exceeds ``maximum``.
* ``seed`` makes the draws reproducible (each ``Backoff`` owns its random generator).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from bastion._core._durations import non_negative_seconds

__all__ = ["Backoff"]


def _non_negative(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"backoff {what} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"backoff {what} must be a finite number >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before attempt ``n``: ``min(maximum, initial * multiplier**(n-1))``, jittered.

    ``jitter`` (0..1) is the random fraction: the delay is uniform over
    ``[cap * (1 - jitter), cap]``. Raises ``ValueError``/``TypeError`` for bad values.
    """

    initial: float = 0.01
    maximum: float = 1.0
    multiplier: float = 2.0
    jitter: float = 0.1
    seed: int | None = None
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        non_negative_seconds("backoff initial", self.initial)
        if non_negative_seconds("backoff maximum", self.maximum) < self.initial:
            raise ValueError(
                f"backoff maximum ({self.maximum!r}) must be >= initial ({self.initial!r})"
            )
        if _non_negative(self.multiplier, "multiplier") < 1:
            raise ValueError(f"backoff multiplier must be >= 1, got {self.multiplier!r}")
        if not 0 <= _non_negative(self.jitter, "jitter") <= 1:
            raise ValueError(f"backoff jitter must be within 0..1, got {self.jitter!r}")
        object.__setattr__(self, "_random", random.Random(self.seed))

    def cap(self, attempt: int) -> float:
        """The delay before attempt ``attempt`` (1-based) without jitter."""
        exponent = min(max(0, attempt - 1), 1024)
        try:
            return min(self.maximum, self.initial * self.multiplier**exponent)
        except OverflowError:
            return self.maximum

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (1-based), jitter included."""
        cap = self.cap(attempt)
        if not self.jitter:
            return cap
        return cap - self._random.uniform(0.0, cap * self.jitter)
