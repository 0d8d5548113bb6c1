"""CoordinatorAgent: ordered and DAG workflows, retries, reassignment, resume, limits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import bastion
from bastion.agents import (
    CoordinatorAgent,
    StepPhase,
    Task,
    TaskAccepted,
    TaskAgent,
    TaskSpec,
    WorkflowPhase,
    act,
    action,
)
from bastion.persistence import StateStore
from bastion.testing import capture_events, crash, wait_for
from tests.agents.conftest import open_store

PIPELINE = [{"name": s, "task_type": s} for s in ("fetch", "parse", "enrich", "index")]


class Work:
    """Handlers for the pipeline; ``hold`` makes a step type wait for ``gate``."""

    def __init__(self, hold: str | None = None, fail: dict[str, int] | None = None) -> None:
        self.hold = hold
        self.fail = dict(fail or {})
        self.gate = asyncio.Event()
        self.calls: list[tuple[str, str]] = []

    def handlers(self, agent: str) -> dict[str, Any]:
        async def run(task: Task) -> Any:
            self.calls.append((agent, task.id))
            if task.type == self.hold:
                await self.gate.wait()
            if self.fail.get(task.type, 0) > 0:
                self.fail[task.type] -= 1
                raise ConnectionError(f"{task.type} failed")  # transient: retried
            return {"step": task.type, "inputs": sorted(task.inputs)}

        return {t: run for t in ("fetch", "parse", "enrich", "index")}


async def _workers(
    rt: bastion.Runtime, store: StateStore, work: Work, names: tuple[str, ...] = ("w1", "w2")
) -> Any:
    specs = [
        bastion.ChildSpec(
            id=n, actor=TaskAgent, name=n, kwargs={"store": store, "handlers": work.handlers(n)}
        )
        for n in names
    ]
    return await rt.start_supervisor(specs, name="workers", intensity=bastion.RestartIntensity(10))


async def _finished(coord: bastion.ActorRef, wf: str, status: str = "completed") -> Any:
    async def check() -> Any:
        s = await act(coord, "workflow_status", workflow_id=wf)
        return s if s.status == status else None

    return await wait_for(check, timeout=10.0)


async def test_an_ordered_workflow_runs_its_steps_in_order_and_is_released(
    store_kind: str, db_path: Path
) -> None:
    work = Work()
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        started = await act(coord, "start_workflow", workflow_id="doc-1", steps=PIPELINE)
        assert started.status == "running"
        done = await _finished(coord, "doc-1")
        assert done.progress == 1.0
        assert done.results["index"] == {"step": "index", "inputs": ["enrich"]}
        assert [c[1] for c in work.calls] == [
            f"doc-1/{s}/1" for s in ("fetch", "parse", "enrich", "index")
        ]
        assert await act(coord, "list_workflows") == []  # released from the active set
        stats = await act(coord, "statistics")
        assert (stats.completed, stats.running, stats.dispatched) == (1, 0, 4)
        again = await act(coord, "start_workflow", workflow_id="doc-1", steps=PIPELINE)
        assert again.status == "completed"  # idempotent by id
        await coord.stop()
        await workers.stop()


async def test_a_dag_runs_independent_steps_and_joins_them(db_path: Path) -> None:
    work = Work()
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        await act(
            coord,
            "start_workflow",
            workflow_id="dag",
            steps=[
                {"name": "a", "task_type": "fetch", "depends_on": []},
                {"name": "b", "task_type": "parse", "depends_on": []},
                {"name": "c", "task_type": "index", "depends_on": ["a", "b"]},
            ],
        )
        done = await _finished(coord, "dag")
        assert done.results["c"]["inputs"] == ["a", "b"]
        await coord.stop()
        await workers.stop()


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        ([], "at least one step"),
        ([{"name": "a", "task_type": "x"}, {"name": "a", "task_type": "x"}], "unique"),
        ([{"name": "a", "task_type": "x", "depends_on": ["zz"]}], "unknown steps"),
        (
            [
                {"name": "a", "task_type": "x", "depends_on": ["b"]},
                {"name": "b", "task_type": "x", "depends_on": ["a"]},
            ],
            "cycle",
        ),
        ([{"name": "a"}], "missing required field `task_type`"),
    ],
)
async def test_invalid_workflows_are_clear_errors(steps: list[Any], match: str) -> None:
    async with bastion.open_runtime() as rt:
        coord = await rt.spawn(
            CoordinatorAgent, name="coord", store=bastion.persistence.MemoryStore()
        )
        with pytest.raises(bastion.ValidationError, match=match):
            await act(coord, "start_workflow", steps=steps)
        assert (await act(coord, "statistics")).running == 0
        await coord.stop()


async def test_a_failing_step_is_retried_then_fails_the_workflow(db_path: Path) -> None:
    work = Work(fail={"parse": 1, "enrich": 5})
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        await act(coord, "start_workflow", workflow_id="wf", steps=PIPELINE)
        failed = await _finished(coord, "wf", "failed")
        assert failed.error == "step 'enrich': ConnectionError: enrich failed"
        assert failed.steps == {
            "fetch": "completed",
            "parse": "completed",
            "enrich": "failed",
            "index": "pending",
        }
        stats = await act(coord, "statistics")
        assert (stats.failed, stats.retried) == (1, 3)  # parse once, enrich twice
        await coord.stop()
        await workers.stop()


async def test_a_step_whose_agent_dies_is_reassigned(db_path: Path) -> None:
    work = Work(hold="parse")
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        lonely = await rt.spawn(TaskAgent, name="w1", store=store, handlers=work.handlers("w1"))
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        await act(coord, "start_workflow", workflow_id="wf", steps=PIPELINE)
        await wait_for(lambda: ("w1", "wf/parse/1") in work.calls, timeout=5.0)
        await crash(lonely)  # not supervised: gone for good
        backup = await rt.spawn(TaskAgent, name="w2", store=store, handlers=work.handlers("w2"))
        work.gate.set()
        await wait_for(lambda: _reassigned(coord), timeout=5.0)
        done = await _finished(coord, "wf")
        assert ("w2", "wf/parse/1") in work.calls
        assert done.reassigned == 1
        await coord.stop()
        await backup.stop()


async def _reassigned(coord: bastion.ActorRef) -> bool:
    return bool((await act(coord, "statistics")).reassigned)


async def test_the_coordinator_resumes_workflows_after_it_crashes(
    store_kind: str, db_path: Path
) -> None:
    work = Work(hold="enrich")
    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        sup = await rt.start_supervisor(
            [
                bastion.ChildSpec(
                    id="coord", actor=CoordinatorAgent, name="coord", kwargs={"store": store}
                )
            ]
        )
        coord = rt.ref("coord")
        await act(coord, "start_workflow", workflow_id="wf", steps=PIPELINE)
        await act(coord, "start_workflow", workflow_id="wf2", steps=PIPELINE[:1])
        await wait_for(lambda: any(c[1] == "wf/enrich/1" for c in work.calls), timeout=5.0)
        first = rt.whereis("coord")
        assert first is not None
        await crash(first)
        await wait_for(lambda: rt.whereis("coord") not in (None, first), timeout=5.0)
        work.gate.set()
        done = await _finished(coord, "wf")
        assert done.results["index"]["step"] == "index"
        assert (await act(coord, "workflow_status", workflow_id="wf2")).status == "completed"
        runs = [c[1] for c in work.calls]
        assert runs.count("wf/index/1") == 1
        await sup.stop()
        await workers.stop()


async def test_workflows_resume_after_a_process_restart(db_path: Path) -> None:
    work = Work(hold="parse")
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        await act(coord, "start_workflow", workflow_id="wf", steps=PIPELINE)
        await wait_for(lambda: any(c[1] == "wf/parse/1" for c in work.calls), timeout=5.0)
        await coord.stop()
        await workers.stop()  # the parse task is cancelled mid-run and stays queued
    work2 = Work()
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work2)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        done = await _finished(coord, "wf")
        assert done.progress == 1.0
        assert [c[1] for c in work2.calls] == ["wf/parse/1", "wf/enrich/1", "wf/index/1"]
        await coord.stop()
        await workers.stop()


async def test_max_concurrent_workflows_queues_the_rest(db_path: Path) -> None:
    work = Work(hold="fetch")
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        coord = await rt.spawn(
            CoordinatorAgent,
            name="coord",
            store=store,
            max_concurrent_workflows=1,
            max_pending_workflows=1,
        )
        first = await act(coord, "start_workflow", workflow_id="a", steps=PIPELINE[:1])
        second = await act(coord, "start_workflow", workflow_id="b", steps=PIPELINE[:1])
        assert (first.status, second.status) == ("running", "pending")
        with pytest.raises(bastion.BusinessError, match="holds 2 workflows"):
            await act(coord, "start_workflow", workflow_id="c", steps=PIPELINE[:1])
        work.gate.set()
        await _finished(coord, "a")
        await _finished(coord, "b")
        await coord.stop()
        await workers.stop()


async def test_cancel_pause_resume(db_path: Path) -> None:
    work = Work(hold="parse")
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        await act(coord, "start_workflow", workflow_id="p", steps=PIPELINE)
        await act(coord, "start_workflow", workflow_id="c", steps=PIPELINE)
        # steps are offered without waiting: pause once "parse" (held) is on its agent
        await wait_for(lambda: _step_is(coord, "p", "parse", "dispatched"), timeout=5.0)
        assert (await act(coord, "pause", workflow_id="p")).status == "paused"
        cancelled = await act(coord, "cancel", workflow_id="c")
        assert cancelled.status == "cancelled"
        work.gate.set()
        await wait_for(lambda: _step_done(coord, "p", "parse"), timeout=5.0)
        assert (await act(coord, "workflow_status", workflow_id="p")).steps["enrich"] == "pending"
        await act(coord, "resume", workflow_id="p")
        await _finished(coord, "p")
        with pytest.raises(bastion.BusinessError, match="no active workflow"):
            await act(coord, "cancel", workflow_id="c")
        await coord.stop()
        await workers.stop()


async def _step_done(coord: bastion.ActorRef, wf: str, step: str) -> bool:
    return await _step_is(coord, wf, step, "completed")


async def _step_is(coord: bastion.ActorRef, wf: str, step: str, phase: str) -> bool:
    return bool((await act(coord, "workflow_status", workflow_id=wf)).steps[step] == phase)


@pytest.mark.bastion(real_time=False)  # a 60 s stall, in virtual time
async def test_a_stalled_workflow_is_detected(db_path: Path) -> None:
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        coord = await rt.spawn(
            CoordinatorAgent, name="coord", store=store, stall_timeout=60.0, check_interval=10.0
        )
        with capture_events(("bastion", "agent", "workflow", "stalled")) as captured:
            await act(coord, "start_workflow", workflow_id="nobody", steps=PIPELINE[:1])
            await wait_for(
                lambda: captured.count("bastion", "agent", "workflow", "stalled"), timeout=120.0
            )
        assert (await act(coord, "statistics")).stalled >= 1
        await coord.stop()


async def test_a_step_failing_with_an_expected_error_is_not_retried(db_path: Path) -> None:
    calls: list[str] = []

    def reject(task: Task) -> None:
        calls.append(task.id)
        raise bastion.ValidationError("malformed document")

    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        worker = await rt.spawn(TaskAgent, name="w1", store=store, handlers={"fetch": reject})
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store, max_step_attempts=3)
        await act(
            coord,
            "start_workflow",
            workflow_id="wf",
            steps=[{"name": "fetch", "task_type": "fetch"}],
        )
        failed = await _finished(coord, "wf", "failed")
        assert failed.error == "step 'fetch': ValidationError: malformed document"
        assert calls == ["wf/fetch/1"]  # failed at once: no second or third attempt
        assert (await act(coord, "statistics")).retried == 0
        await coord.stop()
        await worker.stop()


async def test_the_coordinator_demonitors_agents_once_their_steps_end(db_path: Path) -> None:
    work = Work(hold="parse")
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        baseline = rt.statistics().monitors  # the supervisor's own (links/monitors)
        await act(coord, "start_workflow", workflow_id="wf", steps=PIPELINE)
        await wait_for(lambda: any(c[1] == "wf/parse/1" for c in work.calls), timeout=5.0)
        assert rt.statistics().monitors == baseline + 1  # the agent running "parse"
        work.gate.set()
        await _finished(coord, "wf")
        await rt.wait_idle(timeout=1.0)
        assert rt.statistics().monitors == baseline
        await act(coord, "start_workflow", workflow_id="wf2", steps=PIPELINE[:1])
        await _finished(coord, "wf2")
        assert rt.statistics().monitors == baseline
        await coord.stop()
        await workers.stop()


async def test_a_finished_workflow_emits_its_phase_event_and_reports_enum_phases(
    db_path: Path,
) -> None:
    work = Work()
    finished = ("bastion", "agent", "workflow", "completed")
    async with open_store("memory", db_path) as store, bastion.open_runtime() as rt:
        workers = await _workers(rt, store, work)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        with capture_events(finished) as captured:
            await act(coord, "start_workflow", workflow_id="wf", steps=PIPELINE)
            done = await _finished(coord, "wf")
        assert captured.count(*finished) == 1
        assert done.status is WorkflowPhase.COMPLETED
        assert set(done.steps.values()) == {StepPhase.COMPLETED}
        await coord.stop()
        await workers.stop()


class SlowToAccept(TaskAgent):
    """A TaskAgent whose ``queue`` acknowledgement waits for ``accept`` (a slow commit)."""

    accept: asyncio.Event

    @action(name="queue")
    async def queue_task(self, spec: TaskSpec) -> TaskAccepted:
        await self.accept.wait()
        return await super().queue_task(spec)


async def test_the_coordinator_answers_while_a_step_waits_for_its_acknowledgement(
    db_path: Path,
) -> None:
    SlowToAccept.accept = asyncio.Event()
    work = Work()
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        await rt.spawn(SlowToAccept, name="w1", store=store, handlers=work.handlers("w1"))
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        started = await act(coord, "start_workflow", workflow_id="d", steps=PIPELINE[:2])
        assert started.status == "running"  # answered once the start is committed
        await wait_for(lambda: _step_is(coord, "d", "fetch", "dispatched"), timeout=5.0)
        status = await act(coord, "workflow_status", workflow_id="d", call_timeout=1.0)
        assert status.steps == {"fetch": "dispatched", "parse": "pending"}
        SlowToAccept.accept.set()
        await _finished(coord, "d")
        assert [task for _, task in work.calls] == ["d/fetch/1", "d/parse/1"]
        await coord.stop()
