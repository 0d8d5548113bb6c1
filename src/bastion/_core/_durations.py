"""The one validator of timeouts, intervals and delays (seconds), used everywhere.

Bastion never waits forever, so ``None``, ``inf`` and ``nan`` are refused where a
duration is expected, at the call that received it — not later, when a mailbox happens
to be full. A value of the wrong type (a string, a bool, a ``timedelta``) is a
``TypeError``; a number out of range is a ``ValueError``. Both say what was expected.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_timeout", "non_negative_seconds", "positive_seconds"]

_FOREVER_HINT = " (Bastion never waits forever; pick a finite deadline)"
_NON_NEGATIVE = ">= 0 (non-negative)"


def positive_seconds(name: str, value: object) -> float:
    """``value`` as float seconds; it must be a finite number > 0.

    Raises ``TypeError`` for a non-number and ``ValueError`` for ``None``, ``inf``,
    ``nan``, zero or a negative number, naming ``name`` in the message.
    """
    seconds = _number(name, value, "> 0")
    if not 0 < seconds < math.inf:
        raise ValueError(_message(name, value, "> 0"))
    return seconds


def non_negative_seconds(name: str, value: object) -> float:
    """``value`` as float seconds; it must be a finite number >= 0 (a delay)."""
    seconds = _number(name, value, _NON_NEGATIVE)
    if not 0 <= seconds < math.inf:
        raise ValueError(_message(name, value, _NON_NEGATIVE))
    return seconds


def check_timeout(timeout: object) -> float:
    """A ``timeout`` argument: :func:`positive_seconds` named ``"timeout"``."""
    return positive_seconds("timeout", timeout)


def _number(name: str, value: object, bound: str) -> float:
    if value is None:
        raise ValueError(_message(name, value, bound))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number of seconds {bound}, got {type(value).__name__}: {value!r}"
        )
    return float(value)


def _message(name: str, value: object, bound: str) -> str:
    hint = _FOREVER_HINT if value is None or value == math.inf else ""
    return f"{name} must be a finite number of seconds {bound}, got {value!r}{hint}"
