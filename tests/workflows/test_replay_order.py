"""Branches of several steps replay in the order their outcomes were recorded (``seq``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bastion
from bastion.workflows import inspect
from bastion.workflows._records import StepRecord, StepStatus
from bastion.workflows._replay import STALL, ReplayOrder
from tests.workflows.conftest import Journal, engine_on, open_store

CALLS = Journal()


@bastion.step
async def first(branch: str) -> str:
    CALLS.add(f"first {branch}")
    await CALLS.gate(f"first {branch}").wait()
    return branch


@bastion.step
async def then(value: str) -> str:
    CALLS.add(f"then {value}")
    await CALLS.gate(f"then {value}").wait()
    return value.upper()


async def _branch(name: str) -> str:
    return await then(await first(name))


@bastion.workflow(name="tests.replay.dag", version="1")
async def dag(ctx: bastion.WorkflowContext) -> list[str]:
    return list(await asyncio.gather(_branch("a"), _branch("b")))


async def test_branches_of_several_steps_resume_after_a_restart(
    rt: bastion.Runtime, store_kind: str, tmp_path: Path
) -> None:
    CALLS.clear()
    async with open_store(store_kind, tmp_path) as store:
        async with engine_on(rt, store) as engine:
            await engine.start(dag, workflow_id="dag")
            await bastion.testing.wait_for(lambda: len(CALLS.entries) == 2, timeout=5.0)
            CALLS.gate("first b").set()  # "b" completes first: its next step is number 2
            await bastion.testing.wait_for(lambda: "then b" in CALLS.entries, timeout=5.0)
            CALLS.gate("first a").set()
            await bastion.testing.wait_for(lambda: "then a" in CALLS.entries, timeout=5.0)
            steps = await inspect(store).steps("dag")
            assert [(s.step_no, s.name) for s in steps] == [(0, "first"), (1, "first")]
        CALLS.clear()  # the engine closed with both "then" steps in flight
        CALLS.gate("then a").set()
        CALLS.gate("then b").set()
        async with engine_on(rt, store) as engine:
            assert await engine.result("dag", timeout=10.0) == ["A", "B"]
            steps = await inspect(store).steps("dag")
        assert sorted(CALLS.entries) == ["then a", "then b"]  # recorded steps did not run
        assert [(s.step_no, s.name, s.result) for s in steps] == [
            (0, "first", "a"),
            (1, "first", "b"),
            (2, "then", "B"),  # the numbers of the first run, not of the replay's calls
            (3, "then", "A"),
        ]


def _rec(seq: int, status: StepStatus = StepStatus.COMPLETED) -> StepRecord:
    return StepRecord(name="s", status=status, seq=seq)


async def test_outcomes_are_handed_over_in_record_order() -> None:
    history = {0: _rec(7), 1: _rec(3), 2: _rec(5, StepStatus.RETRYING), 3: _rec(0)}
    order = ReplayOrder(history)
    handed: list[int] = []

    async def reach(step_no: int) -> None:
        await order.reach(step_no, history[step_no])
        handed.append(step_no)

    async with asyncio.TaskGroup() as group:
        group.create_task(reach(0))  # seq 7: after 3 and 5
        group.create_task(reach(3))  # no seq (older code): at once
        await asyncio.sleep(0)
        assert handed == [3]
        group.create_task(reach(1))  # seq 3: the first
        await asyncio.sleep(0)
        assert handed == [3, 1]
        group.create_task(reach(2))  # seq 5, a retry: reached when called
    assert handed == [3, 1, 2, 0]


@pytest.mark.bastion(real_time=False)
async def test_an_outcome_whose_predecessor_never_comes_is_handed_over_after_the_stall() -> None:
    history = {0: _rec(1), 1: _rec(2)}
    order = ReplayOrder(history)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await order.reach(1, history[1])  # step 0 is never called (the code changed)
    assert loop.time() - began == pytest.approx(STALL)
