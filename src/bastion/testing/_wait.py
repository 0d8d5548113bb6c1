"""``wait_for``: wait until a condition holds, without sleeping in the test.

Under virtual time the condition is re-checked each time the loop becomes idle, first
at the current time and then after each jump to the next deadline; nothing polls, and
a wait that passes costs no real time. On the real clock (``BASTION_REAL_TIME=1``) or a
plain asyncio loop it falls back to polling with a growing interval (1 ms to 50 ms).
"""

from __future__ import annotations

import asyncio
import inspect
import reprlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bastion._core._durations import positive_seconds
from bastion.testing._errors import WaitTimeout
from bastion.testing._loop import VirtualTimeLoop

__all__ = ["DEFAULT_TIMEOUT", "check_timeout", "wait_for"]

_T = TypeVar("_T")

DEFAULT_TIMEOUT = 5.0
"""Default deadline of positive waits: generous, since a passing wait returns at once."""

_short = reprlib.Repr()
_short.maxstring = 200
_short.maxother = 200
_MISSING: Any = object()


def check_timeout(timeout: float) -> float:
    """Validate a helper's ``timeout``: finite and > 0, else :class:`ValueError`."""
    return positive_seconds("timeout", timeout)


class _Poller:
    """Waits for the next moment the condition could have changed."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop if isinstance(loop, VirtualTimeLoop) else None
        self._after: float | None = None
        self._interval = 0.001

    async def next(self) -> None:
        loop = self._loop
        if loop is not None and loop.virtual:
            await loop.idle(after=self._after)
            self._after = loop.time()
            return
        await asyncio.sleep(self._interval)
        self._interval = min(self._interval * 2, 0.05)


async def _evaluate(condition: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
    except AssertionError as exc:
        return _MISSING, exc
    return value, None


async def wait_for(
    condition: Callable[[], _T | Awaitable[_T]],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    what: str | None = None,
) -> _T:
    """Return ``condition()``'s first truthy value; raise :class:`WaitTimeout` after ``timeout``.

    ``condition`` is a plain or async callable. An :class:`AssertionError` it raises
    counts as "not yet" (so it may hold ``assert`` statements); any other exception
    propagates. On timeout the error says what the condition last returned or raised
    (the last assertion error is chained)::

        value = await wait_for(lambda: store.get("k"), timeout=2.0)
    """
    limit = check_timeout(timeout)
    poller = _Poller()
    last: Any = _MISSING
    error: BaseException | None = None
    deadline = asyncio.timeout(limit)
    try:
        async with deadline:
            while True:
                last, error = await _evaluate(condition)
                if last is not _MISSING and last:
                    return last  # type: ignore[no-any-return]
                await poller.next()
    except TimeoutError:
        if not deadline.expired():
            raise
    last, error = await _evaluate(condition)
    if last is not _MISSING and last:
        return last  # type: ignore[no-any-return]
    name = what or getattr(condition, "__qualname__", repr(condition))
    seen = f"raised {error!r}" if error is not None else f"returned {_short.repr(last)}"
    raise WaitTimeout(
        f"wait_for({name}) timed out after {limit:g} s; the condition last {seen}",
        context={"timeout": limit},
    ) from error
