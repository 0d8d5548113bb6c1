"""Fault injection: crash an actor, fail the Nth store write, slow a handler down."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import bastion
from bastion._core._durations import non_negative_seconds
from bastion._core._errors import ActorError, InfrastructureError
from bastion.testing._wait import DEFAULT_TIMEOUT, check_timeout

__all__ = ["FaultyStore", "InjectedCrash", "InjectedFault", "crash", "delay_handler"]

_WRITES = ("write", "submit", "put", "set", "save", "delete", "drop", "quarantine")
_HANDLERS = {"call": "handle_call", "cast": "handle_cast", "info": "handle_info"}


class InjectedCrash(ActorError):
    """The reason of an actor crashed by :func:`crash`."""


class InjectedFault(InfrastructureError):
    """The error a :class:`FaultyStore` raises on the writes it was told to fail."""


async def crash(
    ref: bastion.ActorRef,
    error: BaseException | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> BaseException:
    """Crash the actor as if its handler raised ``error``; return once it is dead.

    Its supervisor, links and monitors see an abnormal exit with ``error`` (default
    :class:`InjectedCrash`) as the reason; pending callers get an error. Raises
    :class:`bastion.ActorNotAlive` if it is not running.
    """
    limit = check_timeout(timeout)
    if not ref.is_alive:
        raise bastion.ActorNotAlive(f"cannot crash {ref!r}: it is not alive")
    reason = error if error is not None else InjectedCrash(f"crash injected into {ref!r}")
    ref.kill(reason)  # the incarnation stays resolvable until its task releases it
    await ref.wait_stopped(timeout=limit)
    return reason


class FaultyStore:
    """Wraps a store; the writes numbered in ``fail_on`` (1-based) raise instead.

    Every other attribute is the wrapped store's. Writes are calls of the methods in
    ``writes`` (by default ``write``, ``submit``, ``put``, ``set``, ``save``,
    ``delete``, ``drop``, ``quarantine`` -- whichever the store has). ``fail_after=n``
    fails every write after the n-th ("disk full")::

        store = FaultyStore(MemoryStore(), fail_on=3)   # the third write raises
    """

    _own: ClassVar[frozenset[str]] = frozenset(
        {"_inner", "_fail_on", "_fail_after", "_error", "_writes", "attempts", "failures"}
    )

    def __init__(
        self,
        inner: Any,
        *,
        fail_on: int | Iterable[int] = (),
        fail_after: int | None = None,
        error: Callable[[int], BaseException] | BaseException | None = None,
        writes: Iterable[str] = _WRITES,
    ) -> None:
        numbers = {fail_on} if isinstance(fail_on, int) else set(fail_on)
        if any(not isinstance(n, int) or n < 1 for n in numbers):
            raise ValueError(f"fail_on takes write numbers >= 1, got {sorted(numbers)!r}")
        if fail_after is not None and (not isinstance(fail_after, int) or fail_after < 0):
            raise ValueError(f"fail_after takes a count >= 0, got {fail_after!r}")
        self._inner = inner
        self._fail_on = frozenset(numbers)
        self._fail_after = fail_after
        self._error = error
        self._writes = frozenset(writes)
        #: Writes attempted so far, failed or not.
        self.attempts = 0
        #: Writes made to fail so far.
        self.failures = 0

    def _should_fail(self) -> bool:
        self.attempts += 1
        n = self.attempts
        fail = n in self._fail_on or (self._fail_after is not None and n > self._fail_after)
        if fail:
            self.failures += 1
        return fail

    def _make_error(self) -> BaseException:
        error = self._error
        if error is None:
            return InjectedFault(
                f"write #{self.attempts} failed (injected)", context={"write": self.attempts}
            )
        if isinstance(error, BaseException):
            return error
        return error(self.attempts)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._writes or not callable(attr):
            return attr

        @functools.wraps(attr)
        async def write(*args: Any, **kwargs: Any) -> Any:
            if self._should_fail():
                raise self._make_error()
            return await attr(*args, **kwargs)

        return write

    def __repr__(self) -> str:
        return f"FaultyStore({self._inner!r}, attempts={self.attempts}, failures={self.failures})"


@contextmanager
def delay_handler(
    actor_class: type[bastion.Actor],
    seconds: float,
    *,
    handlers: Iterable[str] = ("call", "cast", "info"),
) -> Iterator[None]:
    """Make ``actor_class``'s handlers wait ``seconds`` (loop time) before running.

    Applies to incarnations *started* inside the block (spawns and restarts): the
    actor loop binds its handlers when it starts. Under virtual time the delay costs
    no real time; it still orders events (a call with a shorter timeout times out)::

        with delay_handler(Worker, 10.0, handlers=["call"]):
            ref = await rt.spawn(Worker)
            with pytest.raises(bastion.CallTimeout):
                await ref.call("job", timeout=1.0)
    """
    if not (isinstance(actor_class, type) and issubclass(actor_class, bastion.Actor)):
        raise TypeError(f"delay_handler() takes an Actor subclass, got {actor_class!r}")
    non_negative_seconds("delay", seconds)
    names = [_HANDLERS[h] if h in _HANDLERS else _unknown(h) for h in handlers]
    saved = {name: actor_class.__dict__.get(name) for name in names}
    for name in names:
        setattr(actor_class, name, _delayed(getattr(actor_class, name), seconds))
    try:
        yield
    finally:
        for name, original in saved.items():
            if original is None:
                delattr(actor_class, name)
            else:
                setattr(actor_class, name, original)


def _unknown(handler: str) -> str:
    raise ValueError(f"unknown handler {handler!r}; use 'call', 'cast' or 'info'")


def _delayed(method: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    @functools.wraps(method)
    async def delayed(self: bastion.Actor, message: Any) -> Any:
        await asyncio.sleep(seconds)
        result = method(self, message)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    return delayed
