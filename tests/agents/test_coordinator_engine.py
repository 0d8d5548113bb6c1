"""The CoordinatorAgent on the ``@workflow`` engine (issue 16): its workflows live apart
from other engines' on the same store, a pause and the counters survive a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import bastion
from bastion.agents import CoordinatorAgent, Task, TaskAgent, act
from bastion.persistence import StateStore
from bastion.testing import crash, wait_for
from bastion.workflows import inspect
from tests.agents.conftest import open_store

ONE = [{"name": "a", "task_type": "x"}]
TWO = [{"name": "a", "task_type": "x"}, {"name": "b", "task_type": "x"}]


@bastion.workflow(name="tests.coordinator_engine.plain")
async def plain(ctx: bastion.WorkflowContext) -> str:
    return "plain"


async def _status(coord: bastion.ActorRef, wf: str, want: str) -> Any:
    async def check() -> Any:
        s = await act(coord, "workflow_status", workflow_id=wf)
        return s if s.status == want else None

    return await wait_for(check, timeout=10.0)


async def _worker(rt: bastion.Runtime, store: StateStore, gate: asyncio.Event) -> Any:
    async def run(task: Task) -> str:
        await gate.wait()
        return task.id

    return await rt.spawn(TaskAgent, name="w", store=store, handlers={"x": run})


async def test_an_engine_opened_on_the_same_store_leaves_coordinator_workflows_alone(
    store_kind: str, db_path: Path
) -> None:
    gate = asyncio.Event()
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        worker = await _worker(rt, store, gate)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        await act(coord, "start_workflow", workflow_id="job", steps=TWO)
        engine = await bastion.open_workflows(rt, store=store)
        handle = await engine.start(plain, workflow_id="job")  # the same id, apart
        assert await handle.result(timeout=5.0) == "plain"
        stats = engine.statistics()
        assert (stats.resumed, stats.refused) == (0, 0)  # it never loaded the coordinator's
        gate.set()
        done = await _status(coord, "job", "completed")
        assert done.results["b"] == "job/b/1"
        ids = {i.id for i in await inspect(store).list()}
        assert ids == {"job", "coordinator/coord/job"}  # both readable by bastion workflows
        await engine.close()
        await coord.stop()
        await worker.stop()


async def test_a_pause_and_the_counters_survive_a_restart(db_path: Path) -> None:
    gate = asyncio.Event()
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        worker = await _worker(rt, store, gate)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        await act(coord, "start_workflow", workflow_id="done", steps=ONE)
        gate.set()
        await _status(coord, "done", "completed")
        gate.clear()
        await act(coord, "start_workflow", workflow_id="held", steps=TWO)
        await act(coord, "pause", workflow_id="held")
        await coord.stop()
        await worker.stop()
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        worker = await _worker(rt, store, gate)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        stats = await act(coord, "statistics")
        assert (stats.completed, stats.dispatched, stats.paused, stats.running) == (1, 2, 1, 0)
        gate.set()
        await rt.wait_idle(timeout=1.0)
        status = await act(coord, "workflow_status", workflow_id="held")
        assert status.status == "paused"
        assert status.steps == {"a": "pending", "b": "pending"}  # nothing dispatched
        await act(coord, "resume", workflow_id="held")
        await _status(coord, "held", "completed")
        await coord.stop()
        await worker.stop()


async def test_forget_deletes_a_finished_workflow(db_path: Path) -> None:
    gate = asyncio.Event()
    gate.set()
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        worker = await _worker(rt, store, gate)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        await act(coord, "start_workflow", workflow_id="wf", steps=TWO)
        await _status(coord, "wf", "completed")
        await act(coord, "forget", workflow_id="wf")
        assert await store.namespaces("workflow/coordinator/coord/") == []
        again = await act(coord, "start_workflow", workflow_id="wf", steps=ONE)
        assert again.total_steps == 1  # a new workflow under the forgotten id
        await coord.stop()
        await worker.stop()


async def test_counts_and_the_start_order_of_pending_workflows_survive_a_crash(
    db_path: Path,
) -> None:
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        spec = bastion.ChildSpec(
            id="c",
            actor=CoordinatorAgent,
            name="coord",
            kwargs={"store": store, "max_concurrent_workflows": 1},
        )
        sup = await rt.start_supervisor([spec], intensity=bastion.RestartIntensity(5, 5.0))
        coord = rt.ref("coord")
        steps = [{"name": "a", "task_type": "nobody-does-this"}]  # stays running: no agent
        for i in range(4):
            await act(coord, "start_workflow", workflow_id=f"wf{i}", steps=steps)
        await act(coord, "pause", workflow_id="wf2")
        stats = await act(coord, "statistics")
        assert (stats.running, stats.pending, stats.paused) == (1, 2, 1)
        first = rt.whereis("coord")
        assert first is not None
        await crash(first)
        await wait_for(lambda: (r := rt.whereis("coord")) is not None and r != first, timeout=5.0)
        await wait_for(lambda: _running(coord), timeout=5.0)
        stats = await act(coord, "statistics")
        assert (stats.running, stats.pending, stats.paused) == (1, 2, 1)
        await act(coord, "cancel", workflow_id="wf0")  # frees the slot: wf1 is the oldest
        await _status(coord, "wf1", "running")  # (loaded from the store, then started)
        assert (await act(coord, "workflow_status", workflow_id="wf3")).status == "pending"
        await sup.stop()


async def _running(coord: bastion.ActorRef) -> bool:
    return bool((await act(coord, "statistics")).running == 1)


async def test_a_paused_workflow_frees_its_slot_and_resumes_from_its_records(
    db_path: Path,
) -> None:
    gate = asyncio.Event()
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        worker = await _worker(rt, store, gate)
        coord = await rt.spawn(
            CoordinatorAgent, name="coord", store=store, max_concurrent_workflows=1
        )
        await act(coord, "start_workflow", workflow_id="first", steps=TWO)
        await wait_for(lambda: _dispatched(coord, "first", "a"), timeout=5.0)
        await act(coord, "pause", workflow_id="first")  # "a" is out on the agent
        second = await act(coord, "start_workflow", workflow_id="second", steps=ONE)
        assert second.status == "pending"  # "first" still finishes its step
        gate.set()
        await _status(coord, "second", "completed")  # the paused one gave its slot up
        held = await act(coord, "workflow_status", workflow_id="first")
        assert (held.status, held.steps) == ("paused", {"a": "completed", "b": "pending"})
        stats = await act(coord, "statistics")
        assert (stats.running, stats.pending, stats.paused) == (0, 0, 1)
        assert [s.id for s in await act(coord, "list_workflows")] == ["first"]
        await act(coord, "resume", workflow_id="first")
        done = await _status(coord, "first", "completed")
        assert done.results == {"a": "first/a/1", "b": "first/b/1"}
        await coord.stop()
        await worker.stop()


async def _dispatched(coord: bastion.ActorRef, wf: str, step: str) -> bool:
    status = await act(coord, "workflow_status", workflow_id=wf)
    return bool(status.steps[step] == "dispatched")
