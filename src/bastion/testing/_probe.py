"""``Probe``: an actor whose mailbox the test asserts on (ExUnit ``assert_receive``,
Akka ``TestProbe``).

Hand ``probe.ref`` to the code under test; everything sent to it (casts, calls, timer
messages, ``Down`` and ``Exit`` notices) is recorded. Patterns are a type (isinstance),
a predicate (any other callable), or a value compared with ``==``; ``ANY`` matches
everything and also works inside dataclass patterns such as ``Down(ANY, ref, ANY)``.
"""

from __future__ import annotations

import asyncio
import reprlib
from collections import deque
from dataclasses import dataclass
from typing import Any
from unittest.mock import ANY

import bastion
from bastion.testing._wait import DEFAULT_TIMEOUT, check_timeout

__all__ = ["ANY", "Probe", "Received", "matches"]

REFUTE_TIMEOUT = 0.1
"""Default window of ``refute_receive``: virtual, so it costs no real time."""

_short = reprlib.Repr()
_short.maxstring = 120
_short.maxother = 120
_short.maxlist = 20


def matches(pattern: Any, message: Any) -> bool:
    """Whether ``message`` matches ``pattern`` (a type, a predicate, or a value)."""
    if pattern is ANY:
        return True
    if isinstance(pattern, type):
        return isinstance(message, pattern)
    if callable(pattern):
        return bool(pattern(message))
    return bool(message == pattern)


@dataclass(frozen=True, slots=True)
class Received:
    """One recorded message: how it arrived (``call``, ``cast`` or ``info``) and what it was."""

    kind: str
    message: Any


@dataclass(frozen=True, slots=True)
class _Watch:
    target: bastion.ActorRef


class _Inbox:
    def __init__(self, reply: Any) -> None:
        self.pending: deque[Received] = deque()
        self.history: list[Received] = []
        self.reply = reply
        self._waiters: list[asyncio.Future[None]] = []

    def push(self, kind: str, message: Any) -> None:
        item = Received(kind, message)
        self.pending.append(item)
        self.history.append(item)
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def changed(self) -> asyncio.Future[None]:
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        return fut

    def take(self, pattern: Any) -> Received | None:
        for item in self.pending:
            if matches(pattern, item.message):
                self.pending.remove(item)
                return item
        return None


class _ProbeActor(bastion.Actor):
    trap_exits = True

    def __init__(self, inbox: _Inbox) -> None:
        self._inbox = inbox

    def handle_call(self, message: Any) -> Any:
        if isinstance(message, _Watch):
            return self.monitor(message.target)
        self._inbox.push("call", message)
        reply = self._inbox.reply
        return reply(message) if callable(reply) else reply

    def handle_cast(self, message: Any) -> None:
        self._inbox.push("cast", message)

    def handle_info(self, message: Any) -> None:
        self._inbox.push("info", message)


class Probe:
    """A recording actor plus assertions on what it received.

    ``reply`` answers calls made to the probe: a value, or a function of the message.
    """

    __slots__ = ("_inbox", "ref")

    def __init__(self, ref: bastion.ActorRef, inbox: _Inbox) -> None:
        self.ref = ref
        self._inbox = inbox

    @classmethod
    async def spawn(
        cls, runtime: bastion.Runtime, *, name: str | None = None, reply: Any = None
    ) -> Probe:
        """Spawn a probe in ``runtime``."""
        inbox = _Inbox(reply)
        ref = await runtime.spawn(_ProbeActor, inbox, name=name)
        return cls(ref, inbox)

    @property
    def received(self) -> list[Any]:
        """Messages received and not yet consumed by an assertion, oldest first."""
        return [item.message for item in self._inbox.pending]

    @property
    def history(self) -> list[Received]:
        """Everything ever received, consumed or not, with how it arrived."""
        return list(self._inbox.history)

    def clear(self) -> None:
        """Forget unconsumed messages."""
        self._inbox.pending.clear()

    def _describe(self) -> str:
        return f"probe {self.ref.name or self.ref!r} holds {_short.repr(self.received)}"

    def assert_received(self, pattern: Any = ANY) -> Any:
        """Take a matching message that has *already* arrived; no waiting."""
        item = self._inbox.take(pattern)
        if item is None:
            raise AssertionError(f"no message matching {pattern!r} received; {self._describe()}")
        return item.message

    async def assert_receive(self, pattern: Any = ANY, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Wait for a matching message and take it out of the mailbox; returns it.

        Returns as soon as it arrives, so a generous ``timeout`` costs nothing when the
        test passes. Raises :class:`~bastion.testing.WaitTimeout` listing the mailbox.
        """
        from bastion.testing._errors import WaitTimeout

        limit = check_timeout(timeout)
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                while (item := self._inbox.take(pattern)) is None:
                    await self._inbox.changed()
        except TimeoutError:
            if not deadline.expired():
                raise
            raise WaitTimeout(
                f"no message matching {pattern!r} within {limit:g} s; {self._describe()}"
            ) from None
        return item.message

    async def refute_receive(self, pattern: Any = ANY, *, timeout: float = REFUTE_TIMEOUT) -> None:
        """Assert no matching message arrives within ``timeout`` (free under virtual time)."""
        limit = check_timeout(timeout)
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                while self._inbox.take(pattern) is None:
                    await self._inbox.changed()
        except TimeoutError:
            if not deadline.expired():
                raise
            return
        raise AssertionError(f"unexpected message matching {pattern!r}; {self._describe()}")

    async def watch(self, target: bastion.ActorRef) -> bastion.MonitorRef:
        """Monitor ``target`` from the probe: its ``Down`` notice will arrive here."""
        monitor: bastion.MonitorRef = await self.ref.call(_Watch(target))
        return monitor

    async def assert_down(
        self,
        target: bastion.ActorRef | bastion.MonitorRef,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> bastion.Down:
        """Wait for the ``Down`` of a watched actor (its ref or the monitor); returns it.

        ``down.reason`` says why it stopped.
        """

        def is_down(m: Any) -> bool:
            if not isinstance(m, bastion.Down):
                return False
            if isinstance(target, bastion.MonitorRef):
                return m.monitor is target
            return m.ref == target or m.monitor.target == target

        down: bastion.Down = await self.assert_receive(is_down, timeout=timeout)
        return down

    async def stop(self) -> None:
        """Stop the probe actor."""
        await self.ref.stop()
