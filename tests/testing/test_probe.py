"""Probe: assert_receive / refute_receive / assert_down, with patterns."""

from __future__ import annotations

import pytest

import bastion
from bastion.testing import ANY, Probe, VirtualClock, WaitTimeout, crash
from tests.testing.conftest import Add, Counter


async def test_assert_receive_returns_the_matching_message(
    rt: bastion.Runtime, probe: Probe
) -> None:
    counter = await rt.spawn(Counter, notify=probe.ref)
    await counter.cast(Add(2))
    await counter.cast(Add(3))
    assert await probe.assert_receive(("count", 5)) == ("count", 5)
    # Earlier non-matching messages stay in the mailbox, in order.
    assert probe.received == [("count", 2)]
    await counter.stop()


async def test_patterns_types_predicates_and_any(rt: bastion.Runtime, probe: Probe) -> None:
    await probe.ref.cast(Add(1))
    await probe.ref.cast("text")
    await probe.ref.cast(Add(7))
    assert await probe.assert_receive(str) == "text"
    assert await probe.assert_receive(lambda m: isinstance(m, Add) and m.n > 5) == Add(7)
    assert await probe.assert_receive(ANY) == Add(1)
    assert probe.received == []
    assert [r.kind for r in probe.history] == ["cast", "cast", "cast"]


async def test_assert_receive_timeout_lists_the_mailbox(
    rt: bastion.Runtime, probe: Probe, clock: VirtualClock
) -> None:
    await probe.ref.cast("something else")
    start = clock.now()
    with pytest.raises(WaitTimeout) as info:
        await probe.assert_receive("expected", timeout=30.0)
    assert "'something else'" in str(info.value)
    if clock.virtual:
        assert clock.now() - start == pytest.approx(30.0)


async def test_refute_receive_passes_when_nothing_matches(
    rt: bastion.Runtime, probe: Probe, clock: VirtualClock
) -> None:
    await probe.ref.cast("noise")
    start = clock.now()
    await probe.refute_receive("signal", timeout=0.1)
    assert clock.now() - start >= 0.1  # it waited the whole window (virtually)
    assert probe.received == ["noise"]


async def test_refute_receive_fails_when_a_message_arrives(
    rt: bastion.Runtime, probe: Probe
) -> None:
    counter = await rt.spawn(Counter, notify=probe.ref)
    await counter.cast(Add(1))
    with pytest.raises(AssertionError, match="unexpected message"):
        await probe.refute_receive(("count", 1))
    await counter.stop()


async def test_probe_answers_calls_and_records_them(
    rt: bastion.Runtime, make_probe: object
) -> None:
    echo = await Probe.spawn(rt, name="echo", reply=lambda m: m * 2)
    try:
        assert await echo.ref.call(21, timeout=1.0) == 42
        assert echo.assert_received(21) == 21
        assert echo.history[0].kind == "call"
    finally:
        await echo.stop()


async def test_assert_received_does_not_wait(rt: bastion.Runtime, probe: Probe) -> None:
    with pytest.raises(AssertionError, match="no message matching"):
        probe.assert_received("never sent")


async def test_watch_and_assert_down_see_a_crash(rt: bastion.Runtime, probe: Probe) -> None:
    counter = await rt.spawn(Counter)
    await probe.watch(counter)
    reason = await crash(counter)
    down = await probe.assert_down(counter)
    assert down.reason is reason
    assert down == bastion.Down(ANY, counter, ANY)  # dataclass patterns with ANY


async def test_make_probe_gives_independent_probes(rt: bastion.Runtime, make_probe: object) -> None:
    first = await make_probe("first")  # type: ignore[operator]
    second = await make_probe("second")  # type: ignore[operator]
    await first.ref.cast("a")
    await first.assert_receive("a")
    await second.refute_receive("a")


async def test_bad_timeouts_are_clear_errors(rt: bastion.Runtime, probe: Probe) -> None:
    with pytest.raises(ValueError, match="finite"):
        await probe.assert_receive(ANY, timeout=float("inf"))
    with pytest.raises(ValueError, match="finite"):
        await probe.refute_receive(ANY, timeout=0)
    with pytest.raises(ValueError, match="never waits forever"):
        await probe.assert_receive(ANY, timeout=None)  # type: ignore[arg-type]
