"""Waiting on actors: their state, their mailbox, and a cast followed by a barrier.

Each helper re-checks at the moments the loop becomes idle (see ``wait_for``), so it
returns as soon as the condition holds and costs no real time under virtual time.
An actor's *state* is its actor object (Python's counterpart of ``:sys.get_state``);
read it only in a predicate, never mutate it from the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import bastion
from bastion._core._ref import actor_state as current_actor
from bastion.testing._wait import DEFAULT_TIMEOUT, check_timeout, wait_for

__all__ = [
    "actor_state",
    "drain_mailbox",
    "mailbox_drained",
    "sync_operation",
    "wait_for_state",
]

_A = TypeVar("_A", bound=bastion.Actor)


def actor_state(ref: bastion.ActorRef) -> bastion.Actor:
    """The actor object ``ref`` points at now (for name refs: the current incarnation).

    Raises :class:`bastion.ActorNotAlive` if it is not running.
    """
    return current_actor(ref)


class _StateCheck:
    """A ``wait_for`` condition over an actor's state that remembers why it failed."""

    def __init__(self, ref: bastion.ActorRef, predicate: Callable[[Any], object]) -> None:
        self.ref = ref
        self.predicate = predicate
        self.__qualname__ = f"state of {ref!r}"

    def __call__(self) -> Any:
        try:
            state = actor_state(self.ref)
        except bastion.ActorNotAlive as exc:  # not yet restarted, say: keep waiting
            raise AssertionError(f"{self.ref!r} is not alive: {exc}") from exc
        if not self.predicate(state):
            raise AssertionError(f"predicate false for {state!r} ({vars_of(state)})")
        return state


def vars_of(obj: object) -> str:
    """A short ``name=value`` rendering of an object's attributes, for failure messages."""
    try:
        items = vars(obj).items()
    except TypeError:
        return repr(obj)
    shown = [f"{k}={v!r}" for k, v in items if not k.startswith("_")]
    text = ", ".join(shown)
    return text if len(text) <= 300 else text[:297] + "..."


async def wait_for_state(
    ref: bastion.ActorRef,
    predicate: Callable[[Any], object],
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """Wait until ``predicate(state)`` holds for the actor ``ref`` points at; return the state.

    Waits through restarts when ``ref`` is a name ref. On timeout,
    :class:`~bastion.testing.WaitTimeout` shows the state last seen::

        counter = await wait_for_state(ref, lambda s: s.count == 3, timeout=2.0)
    """
    return await wait_for(_StateCheck(ref, predicate), timeout)


def mailbox_drained(stats: bastion.ActorStatistics) -> bool:
    """The probe behind :func:`drain_mailbox`, on a ``ref.statistics()`` snapshot.

    True when the actor's mailbox is empty and it waits for its next message
    (``parked``); raises :class:`bastion.ActorNotAlive` if it stopped, and
    ``AssertionError`` saying what it is doing otherwise (``wait_for`` shows it)::

        await wait_for(lambda: mailbox_drained(ref.statistics()), timeout=1.0)
    """
    label = f"{stats.actor_class}({stats.name or '#' + str(stats.id)})"
    if not stats.alive:
        raise bastion.ActorNotAlive(f"{label} stopped while its mailbox was being drained")
    if stats.mailbox_depth or not stats.parked:
        raise AssertionError(
            f"{label}: {stats.mailbox_depth} message(s) queued, "
            f"{'waiting' if stats.parked else 'still handling one'}"
        )
    return True


async def drain_mailbox(ref: bastion.ActorRef, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Wait until ``ref``'s mailbox is empty and the actor waits for its next message.

    Returns how many messages it handled meanwhile. Raises
    :class:`bastion.ActorNotAlive` if it stops first.
    """
    before = ref.statistics().processed
    await wait_for(
        lambda: mailbox_drained(ref.statistics()), timeout, what=f"drain_mailbox({ref!r})"
    )
    return ref.statistics().processed - before


async def sync_operation(
    ref: bastion.ActorRef,
    message: Any,
    checker: Callable[[Any], object] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """Cast ``message``, wait until the actor has handled it, then until ``checker(state)``.

    The barrier is the actor's own mailbox (FIFO): once it is drained, the cast has
    been handled. Returns the actor's state. Without ``checker`` it returns right after
    the barrier::

        state = await sync_operation(ref, Add(2), lambda s: s.count == 3)
    """
    limit = check_timeout(timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    await ref.cast(message, timeout=limit)
    await drain_mailbox(ref, max(deadline - loop.time(), 1e-9))
    if checker is None:
        return actor_state(ref)
    return await wait_for_state(ref, checker, max(deadline - loop.time(), 1e-9))
