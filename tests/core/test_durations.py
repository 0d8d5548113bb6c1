"""Every timeout, interval and delay is validated on entry, by one validator.

Issue 18 item 8 / issue 13 item 2: ``await ref.cast(msg, timeout=None)`` was accepted
whenever the mailbox had room and refused only when it was full, so the mistake passed
every test on an idle system. Now a bad duration fails at the call that received it,
with the same error and message everywhere: ``ValueError`` for ``None``, ``inf``,
``nan``, zero or a negative number, ``TypeError`` for a value that is not a number.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import bastion
from bastion import Backoff, ChildSpec
from bastion._core._durations import non_negative_seconds, positive_seconds
from bastion.agents import CoordinatorAgent, MonitorAgent, SignalBus, TaskAgent
from bastion.persistence import MemoryStore, SQLiteStore
from bastion.resilience import Bulkhead, CircuitBreaker, Retry, TimeWindow, isolate
from bastion.testing import wait_for
from tests.core.conftest import Echo

BAD_VALUES = [None, math.inf, -math.inf, math.nan, 0, -1, -0.5]
BAD_TYPES = ["1", True, b"1", [1.0]]
BAD = [(v, ValueError) for v in BAD_VALUES] + [(v, TypeError) for v in BAD_TYPES]


def _ids(cases: list[tuple[Any, type]]) -> list[str]:
    return [repr(value) for value, _ in cases]


@pytest.mark.parametrize(("bad", "error"), BAD, ids=_ids(BAD))
def test_positive_seconds_refuses_what_is_not_a_finite_positive_number(
    bad: Any, error: type[Exception]
) -> None:
    with pytest.raises(error, match="my_timeout"):
        positive_seconds("my_timeout", bad)


def test_the_message_teaches_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"never waits forever; pick a finite deadline"):
        positive_seconds("timeout", None)
    with pytest.raises(TypeError, match=r"timeout must be a number of seconds > 0, got str"):
        positive_seconds("timeout", "5")


def test_durations_accept_real_numbers_and_non_negative_allows_zero() -> None:
    assert positive_seconds("t", 2) == 2.0
    assert isinstance(positive_seconds("t", 2), float)
    assert non_negative_seconds("delay", 0) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        non_negative_seconds("delay", -0.1)


# -- the kernel's public entry points ----------------------------------------------------

EntryPoint = Callable[[bastion.Runtime, bastion.ActorRef, Any], Awaitable[Any]]


async def _cast(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await ref.cast("hello", timeout=bad)


async def _call(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await ref.call("hello", timeout=bad)


async def _stop(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await ref.stop(timeout=bad)


async def _wait_stopped(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await ref.wait_stopped(timeout=bad)


async def _spawn(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await rt.spawn(Echo, start_timeout=bad)


async def _wait_idle(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await rt.wait_idle(timeout=bad)


async def _shutdown(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await rt.shutdown(timeout=bad)


async def _task_run(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await rt.tasks.run(asyncio.sleep, 0, timeout=bad)


async def _run_blocking(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await rt.tasks.run_blocking(len, "x", timeout=bad)


async def _isolate(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await isolate(asyncio.sleep, 0, timeout=bad)


async def _wait_for(rt: bastion.Runtime, ref: bastion.ActorRef, bad: Any) -> Any:
    return await wait_for(lambda: True, timeout=bad)


ENTRY_POINTS: list[EntryPoint] = [
    _cast,
    _call,
    _stop,
    _wait_stopped,
    _spawn,
    _wait_idle,
    _shutdown,
    _task_run,
    _run_blocking,
    _isolate,
    _wait_for,
]


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=[e.__name__[1:] for e in ENTRY_POINTS])
@pytest.mark.parametrize(("bad", "error"), BAD, ids=_ids(BAD))
async def test_a_bad_timeout_fails_at_the_entry_point_on_an_idle_system(
    entry: EntryPoint, bad: Any, error: type[Exception]
) -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        with pytest.raises(error):
            await entry(rt, ref, bad)
        assert not rt.closed
        assert await ref.call("state") == {"tag": "", "casts": [], "infos": []}  # nothing sent


@pytest.mark.parametrize(("bad", "error"), BAD, ids=_ids(BAD))
async def test_a_bad_timeout_fails_even_for_a_dead_actor(bad: Any, error: type[Exception]) -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        await ref.stop()
        with pytest.raises(error):
            await ref.stop(timeout=bad)


@pytest.mark.parametrize(("bad", "error"), BAD, ids=_ids(BAD))
async def test_open_runtime_and_run_refuse_bad_timeouts(bad: Any, error: type[Exception]) -> None:
    for option in ("call_timeout", "shutdown_timeout"):
        with pytest.raises(error, match=option.split("_")[0] if bad is None else "timeout"):
            async with bastion.open_runtime(**{option: bad}):
                pass
    with pytest.raises(error, match="call_timeout"):
        bastion.run(asyncio.sleep, 0, call_timeout=bad)


@pytest.mark.parametrize(("bad", "error"), BAD, ids=_ids(BAD))
async def test_timers_refuse_bad_delays_and_periods(bad: Any, error: type[Exception]) -> None:
    class Timed(bastion.Actor):
        def handle_call(self, message: Any) -> Any:
            kind, value = message
            start = self.send_after if kind == "after" else self.send_interval
            try:
                start(value, "x").cancel()
            except (TypeError, ValueError) as exc:
                return exc  # the error the actor's own code sees
            return "ok"

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Timed)
        if bad != 0:  # a zero delay is fine for send_after and clock.sleep, not for a period
            refused = await ref.call(("after", bad))
            assert isinstance(refused, error)
            assert "delay" in str(refused)
            with pytest.raises(error, match="delay"):
                await rt.clock.sleep(bad)
        refused = await ref.call(("interval", bad))
        assert isinstance(refused, error)
        assert "period" in str(refused)
        assert await ref.call(("after", 0)) == "ok"


@pytest.mark.parametrize(("bad", "error"), BAD, ids=_ids(BAD))
async def test_supervision_durations_use_the_validator(bad: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="shutdown"):
        ChildSpec("a", Echo, shutdown=bad)
    if bad != 0:  # a zero backoff is allowed (restart at once)
        with pytest.raises(error, match="backoff initial"):
            Backoff(initial=bad)
    async with bastion.open_runtime() as rt:
        with pytest.raises(error, match="max_seconds"):
            bastion.RestartIntensity(max_seconds=bad)
        sup = await rt.start_supervisor([ChildSpec("a", Echo)])
        for operation in (
            sup.start_child(ChildSpec("b", Echo), timeout=bad),
            sup.which_children(timeout=bad),
            sup.terminate_child("a", timeout=bad),
            sup.stop(timeout=bad),
        ):
            with pytest.raises(error):
                await operation
        assert [c.id for c in await sup.which_children()] == ["a"]


# -- the other packages use the same validator ----------------------------------------------


@pytest.mark.parametrize(("bad", "error"), BAD, ids=_ids(BAD))
async def test_library_durations_use_the_one_validator(bad: Any, error: type[Exception]) -> None:
    constructors: list[tuple[str, Callable[[], object]]] = [
        ("deadline", lambda: Retry(deadline=bad)),
        ("open_for", lambda: CircuitBreaker("b", open_for=bad)),
        ("slow_call_duration", lambda: CircuitBreaker("b", slow_call_duration=bad)),
        ("max_wait", lambda: Bulkhead("b", max_wait=bad)),
        ("seconds", lambda: TimeWindow(seconds=bad)),
        ("retry_interval", lambda: SignalBus(retry_interval=bad)),
        ("op_timeout", lambda: SQLiteStore("unused.db", op_timeout=bad)),
    ]
    for name, construct in constructors:
        with pytest.raises(error, match=name):
            construct()
    store = MemoryStore()
    async with bastion.open_runtime() as rt:
        for actor_class, option in (
            (TaskAgent, "task_timeout"),
            (CoordinatorAgent, "stall_timeout"),
            (MonitorAgent, "interval"),
        ):
            kwargs: dict[str, Any] = {option: bad}
            if actor_class is not MonitorAgent:
                kwargs["store"] = store
            with pytest.raises(bastion.StartFailed) as info:
                await rt.spawn(actor_class, **kwargs)
            assert isinstance(info.value.__cause__, error), info.value.__cause__
