"""Dead letters: bounded, inspectable, replayable; lowlevel.send lands there."""

from __future__ import annotations

import pytest

import bastion
import bastion.lowlevel
from tests.core.conftest import Echo


async def test_lowlevel_send_to_a_dead_actor_becomes_a_dead_letter() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="gone")
        await ref.stop()
        bastion.lowlevel.send(ref, "hello")
        [letter] = rt.dead_letters.items()
        assert letter.message == "hello"
        assert letter.name == "gone"
        assert "unchecked" in letter.reason


async def test_lowlevel_send_delivers_to_handle_info_when_possible() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        bastion.lowlevel.send(ref, "info!")
        state = await ref.call("state")
        assert state["infos"] == ["info!"]
        assert len(rt.dead_letters) == 0


async def test_dead_letters_are_bounded_and_count_evictions() -> None:
    async with bastion.open_runtime(dead_letter_capacity=3) as rt:
        ref = await rt.spawn(Echo)
        await ref.stop()
        for i in range(5):
            bastion.lowlevel.send(ref, i)
        stats = rt.dead_letters.statistics()
        assert (stats.size, stats.capacity, stats.total, stats.evicted) == (3, 3, 5, 2)
        assert [letter.message for letter in rt.dead_letters.items()] == [2, 3, 4]
        assert [letter.message for letter in rt.dead_letters.drain()] == [2, 3, 4]
        assert len(rt.dead_letters) == 0


async def test_replay_delivers_to_the_current_incarnation() -> None:
    async with bastion.open_runtime() as rt:
        old = await rt.spawn(Echo, name="svc")
        await old.stop()
        bastion.lowlevel.send(old, "retry me")
        bastion.lowlevel.send(old, "skip me")
        new = await rt.spawn(Echo, name="svc")
        result = rt.dead_letters.replay(lambda letter: letter.message == "retry me")
        assert (result.delivered, result.failed) == (1, 0)
        assert (await new.call("state"))["casts"] == ["retry me"]
        assert [letter.message for letter in rt.dead_letters.items()] == ["skip me"]
        await new.stop()
        assert rt.dead_letters.replay().failed == 1
        assert rt.dead_letters.statistics().replayed == 1


@pytest.mark.parametrize("capacity", [0, -5])
async def test_invalid_dead_letter_capacity(capacity: int) -> None:
    with pytest.raises(ValueError, match="dead_letter_capacity"):
        async with bastion.open_runtime(dead_letter_capacity=capacity):
            pass
