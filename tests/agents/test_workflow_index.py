"""WorkflowIndex (issue 15): the counters the coordinator reads per message equal a
recount of the workflows after any sequence of changes, and survive a restart."""

from __future__ import annotations

import collections
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import bastion
from bastion.agents import CoordinatorAgent, StepPhase, Workflow, WorkflowPhase, act
from bastion.agents._workflow import StepState
from bastion.agents._workflow_index import WorkflowIndex
from bastion.testing import crash, wait_for
from tests.agents.conftest import open_store

_ACTIVE = [WorkflowPhase.PENDING, WorkflowPhase.RUNNING, WorkflowPhase.PAUSED]
_ops = st.lists(
    st.tuples(
        st.sampled_from(["start", "phase", "dispatch", "release", "finish"]),
        st.integers(0, 5),
        st.integers(0, 2),
    ),
    max_size=80,
)


@given(_ops)
def test_the_index_equals_a_recount_after_any_changes(ops: list[tuple[str, int, int]]) -> None:
    index = WorkflowIndex()
    active: dict[str, Workflow] = {}
    for op, n, k in ops:
        wf = active.get(f"w{n}")
        if op == "start" and wf is None:
            wf = Workflow(
                id=f"w{n}",
                status=_ACTIVE[k],
                created_at=float(len(active)),
                steps=[StepState(name=f"s{i}", task_type="t") for i in range(3)],
            )
            active[wf.id] = wf
            index.add(wf)
        elif wf is None:
            continue
        elif op == "phase":  # as the coordinator does: pending only at start
            index.set_phase(wf, (WorkflowPhase.RUNNING, WorkflowPhase.PAUSED)[k % 2])
        elif op == "dispatch" and wf.steps[k].status is StepPhase.PENDING:
            wf.steps[k].status, wf.steps[k].agent = StepPhase.DISPATCHED, f"a{n % 2}"
            index.dispatched(f"a{n % 2}")
        elif op == "release":
            index.release(wf.steps[k])
            wf.steps[k].status = StepPhase.PENDING
        elif op == "finish":
            index.remove(wf)
            del active[wf.id]
        busy = {
            s.agent for w in active.values() for s in w.steps if s.status is StepPhase.DISPATCHED
        }
        assert not set(index.newly_idle()) & busy
        phases = collections.Counter(w.status for w in active.values())
        assert all(index.phases[p] == phases[p] for p in _ACTIVE)
        pending = [w.id for w in active.values() if w.status is WorkflowPhase.PENDING]
        assert index.oldest_pending() == (pending[0] if pending else None)
        rebuilt = WorkflowIndex()
        rebuilt.rebuild(active.values())
        assert rebuilt.phases == +index.phases


async def test_coordinator_counts_and_promotion_order_survive_a_restart(db_path: Path) -> None:
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
        stats = await act(coord, "statistics")
        assert (stats.running, stats.pending, stats.paused) == (1, 2, 1)
        await act(coord, "cancel", workflow_id="wf0")  # frees the slot: wf1 is the oldest
        status = await act(coord, "workflow_status", workflow_id="wf1")
        assert status.status == WorkflowPhase.RUNNING
        assert (await act(coord, "workflow_status", workflow_id="wf3")).status == "pending"
        await sup.stop()
