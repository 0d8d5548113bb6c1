"""A store written by the CoordinatorAgent from before the ``@workflow`` engine (issue
16): its active workflows are migrated at the first start and lose nothing (completed
steps do not run again, attempts go on counting, a pause holds), its finished ones stay
readable, idempotent and forgettable."""

from __future__ import annotations

from pathlib import Path

import pytest

import bastion
from bastion.agents import CoordinatorAgent, Task, TaskAgent, act
from bastion.agents._workflow import StepPhase, StepState, Workflow, WorkflowPhase
from bastion.persistence import PutItem, StateStore, default_codec
from bastion.testing import wait_for
from tests.agents.conftest import open_store


def _step(name: str, deps: list[str], **state: object) -> StepState:
    return StepState(name=name, task_type="x", depends_on=deps, **state)  # type: ignore[arg-type]


async def _write_legacy(store: StateStore) -> None:
    codec = default_codec()
    active = Workflow(
        id="active",
        status=WorkflowPhase.RUNNING,
        created_at=1.0,
        steps=[
            _step("fetch", [], status=StepPhase.COMPLETED, result="F", agent="w", reassigned=1),
            _step("parse", ["fetch"], status=StepPhase.DISPATCHED, agent="gone", attempts=2),
            _step("enrich", ["parse"]),
        ],
    )
    held = Workflow(id="held", status=WorkflowPhase.PAUSED, created_at=2.0, steps=[_step("a", [])])
    done = Workflow(
        id="done",
        status=WorkflowPhase.COMPLETED,
        created_at=0.5,
        finished_at=0.9,
        steps=[_step("a", [], status=StepPhase.COMPLETED, result=42)],
    )
    await store.write(
        [
            PutItem("agent/coord", "workflows", w.id, codec.encode(w, Workflow))
            for w in (active, held)
        ]
        + [PutItem("agent/coord", "finished", "done", codec.encode(done, Workflow))]
    )


async def test_an_old_coordinator_store_is_migrated_and_loses_nothing(
    store_kind: str, db_path: Path
) -> None:
    calls: list[str] = []

    def run(task: Task) -> str:
        calls.append(task.id)
        return f"{task.id}<{sorted(task.inputs.items())}"

    async with open_store(store_kind, db_path) as store, bastion.open_runtime() as rt:
        await _write_legacy(store)
        worker = await rt.spawn(TaskAgent, name="w", store=store, handlers={"x": run})
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)

        async def completed(wf: str) -> bool:
            return bool((await act(coord, "workflow_status", workflow_id=wf)).status == "completed")

        await wait_for(lambda: completed("active"), timeout=10.0)
        status = await act(coord, "workflow_status", workflow_id="active")
        assert calls == ["active/parse/2", "active/enrich/1"]  # fetch did not run again
        assert status.results["fetch"] == "F"
        assert status.results["parse"] == "active/parse/2<[('fetch', 'F')]"
        assert (status.retried, status.reassigned) == (1, 1)
        assert (await act(coord, "workflow_status", workflow_id="held")).status == "paused"
        await act(coord, "resume", workflow_id="held")
        await wait_for(lambda: completed("held"), timeout=10.0)

        old = await act(coord, "workflow_status", workflow_id="done")
        assert (old.status, old.results) == ("completed", {"a": 42})
        again = await act(
            coord, "start_workflow", workflow_id="done", steps=[{"name": "a", "task_type": "x"}]
        )
        assert again.status == "completed"  # idempotent: nothing started
        assert "done/a/1" not in calls
        await act(coord, "forget", workflow_id="done")
        with pytest.raises(bastion.BusinessError, match="no workflow 'done'"):
            await act(coord, "workflow_status", workflow_id="done")
        assert (await store.load("agent/coord")).collections.get("workflows", []) == []
        await coord.stop()
        await worker.stop()
