"""A sample of a large node is spread over many turns of the event loop, and a
supervisor's children are listed again only when its counts moved (issue 11, item 4)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion
from bastion.console import _slices, _tree, console_app
from tests.console._nodes import Worker, start_tree


async def test_a_sample_gives_the_loop_back_between_slices_of_actors(
    rt: bastion.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_slices, "SLICE_SECONDS", 0.0)  # a slice per CHECK_EVERY items
    pool = await rt.start_dynamic_supervisor(name="many", max_children=500)
    for n in range(300):
        await pool.start_child(bastion.ChildSpec(f"w{n}", Worker))
    sampler = console_app(rt).sampler
    turns = [0]
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            turns[0] += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    sample = await sampler.current(max_age=0.0)
    done.set()
    await task
    assert len(sample.actors) == 301  # the supervisor and its 300 workers
    # 301 statistics, the supervisor's 300 children and 301 rows: a slice every 32
    assert sampler.slices >= 3 * 300 // _slices.CHECK_EVERY
    assert turns[0] >= 3 * 300 // _slices.CHECK_EVERY  # the loop ran others meanwhile
    assert 0 < sampler.longest_slice <= sampler.cost
    await pool.stop()


async def test_children_are_listed_again_only_when_the_supervisor_counts_move(
    rt: bastion.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = await start_tree(rt)
    asked: list[Any] = []
    original = _tree._children

    async def counted(handle: bastion.SupervisorHandle) -> Any:
        asked.append(handle)
        return await original(handle)

    monkeypatch.setattr(_tree, "_children", counted)
    sampler = console_app(rt).sampler
    first = await sampler.current(max_age=0.0)
    assert len(asked) == 2  # root and pool
    sampler.cost = 0.0  # sample again now (a sample waits ten times its cost otherwise)
    again = await sampler.current(max_age=0.0)
    assert again.seq == 2
    assert len(asked) == 2  # nothing moved: the listings are reused
    assert again.supervisors["pool"].child_rows == first.supervisors["pool"].child_rows
    old = rt.whereis("pool")
    w1 = next(r for r in first.supervisors["pool"].child_rows if r.id == "w1")
    target = next(ref for ref in rt.actors() if ref.statistics().id == w1.actor_id)
    with pytest.raises(bastion.ActorCrashed):
        await target.call("boom", timeout=1.0)

    async def restarted() -> bool:
        sampler.cost = 0.0
        s = await sampler.current(max_age=0.0)
        row = next(r for r in s.supervisors["pool"].child_rows if r.id == "w1")
        return row.alive and row.actor_id is not None and row.actor_id != w1.actor_id

    await bastion.testing.wait_for(restarted, timeout=5.0)
    assert len(asked) >= 3  # pool's restart count moved: pool was asked again
    assert rt.whereis("pool") == old
    await tree.stop()
