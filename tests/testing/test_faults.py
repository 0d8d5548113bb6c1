"""Fault injection (crash, FaultyStore, delay_handler) and captured events."""

from __future__ import annotations

from typing import Any

import pytest

import bastion
from bastion.persistence import MemoryStore
from bastion.testing import (
    FaultyStore,
    InjectedCrash,
    InjectedFault,
    Probe,
    VirtualClock,
    capture_events,
    crash,
    delay_handler,
    wait_for_state,
)
from tests.testing.conftest import Add, Counter

CRASH = ("bastion", "actor", "crash")
RESTART = ("bastion", "supervisor", "restart")


async def test_crash_looks_like_a_handler_crash_to_supervisor_and_monitors(
    rt: bastion.Runtime, probe: Probe
) -> None:
    sup = await rt.start_supervisor(
        [bastion.ChildSpec(id="c", actor=Counter, name="c")],
        intensity=bastion.RestartIntensity(5),
        name="sup",
    )
    first = rt.whereis("c")
    assert first is not None
    await probe.watch(first)
    with capture_events(CRASH, RESTART) as captured:
        reason = await crash(first)
        down = await probe.assert_down(first)
        await wait_for_state(rt.ref("c"), lambda s: True)  # the restarted incarnation
        await rt.wait_idle(timeout=5.0)  # the supervisor finished its bookkeeping
    assert isinstance(reason, InjectedCrash)
    assert down.reason is reason
    assert bastion.is_abnormal(down.reason)
    assert captured.names() == [CRASH, RESTART]
    assert rt.whereis("c") != first
    await sup.stop()


async def test_crash_with_a_custom_error_and_of_a_dead_actor(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter)
    error = KeyError("lost")
    assert await crash(ref, error) is error
    with pytest.raises(bastion.ActorNotAlive):
        await crash(ref)


async def test_crash_answers_pending_callers_with_an_error(rt: bastion.Runtime) -> None:
    with delay_handler(Counter, 50.0, handlers=["call"]):
        ref = await rt.spawn(Counter)
    pending = rt.tasks.start(lambda: ref.call("get", timeout=100.0), name="caller")
    await wait_for_state(ref, lambda s: ref.statistics().processed == 1)
    await crash(ref)
    with pytest.raises((bastion.ActorCrashed, bastion.ActorNotAlive)):
        await pending


async def test_faulty_store_fails_exactly_the_nth_write() -> None:
    store: Any = FaultyStore(MemoryStore(), fail_on=2)
    from bastion.persistence import Put

    await store.write([Put("ns", "a", b"1")])
    with pytest.raises(InjectedFault, match="write #2"):
        await store.write([Put("ns", "b", b"2")])
    await store.write([Put("ns", "c", b"3")])
    assert (store.attempts, store.failures) == (3, 1)
    assert await store.read("ns", "b") is None  # the failed write did not happen
    assert (await store.read("ns", "c")) is not None
    await store.close()


async def test_faulty_store_fail_after_and_custom_errors() -> None:
    store: Any = FaultyStore(
        MemoryStore(), fail_after=1, error=lambda n: OSError(f"disk full at {n}")
    )
    from bastion.persistence import Put

    await store.write([Put("ns", "a", b"1")])
    for n in (2, 3):
        with pytest.raises(OSError, match=f"disk full at {n}"):
            await store.write([Put("ns", "x", b"x")])
    await store.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fail_on": 0}, "fail_on"),
        ({"fail_on": [1, -2]}, "fail_on"),
        ({"fail_after": -1}, "fail_after"),
    ],
)
def test_faulty_store_rejects_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultyStore(object(), **kwargs)


async def test_delay_handler_makes_a_call_time_out_in_virtual_time(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    with delay_handler(Counter, 10.0, handlers=["call"]):
        slow = await rt.spawn(Counter, 1)
    start = clock.now()
    with pytest.raises(bastion.CallTimeout):
        await slow.call("get", timeout=1.0)
    assert clock.now() - start >= 1.0
    # Spawned outside the block: no delay.
    fast = await rt.spawn(Counter, 2)
    assert await fast.call("get", timeout=1.0) == 2
    await slow.stop(timeout=20.0)
    await fast.stop()


async def test_delay_handler_restores_the_class() -> None:
    original = Counter.__dict__["handle_cast"]
    with delay_handler(Counter, 1.0, handlers=["cast"]):
        assert Counter.__dict__["handle_cast"] is not original
    assert Counter.__dict__["handle_cast"] is original
    assert "handle_info" in Counter.__dict__


def test_delay_handler_rejects_bad_input() -> None:
    with pytest.raises(TypeError), delay_handler(object, 1.0):  # type: ignore[arg-type]
        pass
    with (
        pytest.raises(ValueError, match="unknown handler"),
        delay_handler(Counter, 1.0, handlers=["x"]),
    ):
        pass
    with pytest.raises(ValueError, match=">= 0"), delay_handler(Counter, -1.0):
        pass


async def test_capture_events_records_only_inside_the_block(rt: bastion.Runtime) -> None:
    ref = await rt.spawn(Counter)
    with capture_events(CRASH) as captured:
        await crash(ref)
    other = await rt.spawn(Counter)
    await crash(other)  # after the block: not captured
    assert len(captured) == 1
    assert captured.count(*CRASH) == 1
    event = captured.named(*CRASH)[0]
    assert event.measurements == {"count": 1}
    assert "Counter" in event.metadata["actor"]


def test_capture_events_needs_names() -> None:
    with pytest.raises(ValueError, match="at least one"), capture_events():
        pass


async def test_add_is_a_plain_value() -> None:
    assert Add(1) == Add(1)


async def _supervised_counter(rt: bastion.Runtime) -> Any:
    return await rt.start_supervisor(
        [bastion.ChildSpec(id="c", actor=Counter, name="c")],
        intensity=bastion.RestartIntensity(3, 5.0),
    )


async def _crash_current(rt: bastion.Runtime) -> None:
    current = await wait_for_state(rt.ref("c"), lambda s: True)  # restarted and running
    assert current is not None
    target = rt.whereis("c")
    assert target is not None
    await crash(target)


async def test_restart_intensity_window_runs_on_virtual_time(
    rt: bastion.Runtime, probe: Probe, clock: VirtualClock
) -> None:
    # Four crashes 1 s apart: more than 3 restarts within 5 s, the supervisor gives up.
    sup = await _supervised_counter(rt)
    await probe.watch(sup.ref)
    for _ in range(4):
        await _crash_current(rt)
        await clock.advance(1.0)
    down = await probe.assert_down(sup.ref)
    assert isinstance(down.reason, bastion.RestartIntensityExceeded)


async def test_crashes_spread_beyond_the_window_are_tolerated(
    rt: bastion.Runtime, probe: Probe, clock: VirtualClock
) -> None:
    # The same four crashes 2.6 s apart: never more than 2 inside any 5 s window.
    sup = await _supervised_counter(rt)
    await probe.watch(sup.ref)
    for _ in range(4):
        await _crash_current(rt)
        await clock.advance(2.6)
    await probe.refute_receive(bastion.Down, timeout=1.0)
    assert sup.ref.is_alive
    await sup.stop()
