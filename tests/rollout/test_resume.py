"""The orchestrator resumes after a crash: same phase, same statistics, no double promotion."""

from __future__ import annotations

from typing import Any

import bastion
from bastion.agents import act
from bastion.persistence import MemoryStore
from bastion.rollout._orchestrator import orchestrator_name
from tests.rollout._workload import FLAG, Behaviour, Traffic, setup_rollout

NAME = orchestrator_name(FLAG)


async def _until_phase(rt: bastion.Runtime, traffic: Traffic, phase: int) -> Any:
    status = await act(rt.ref(NAME), "status")
    while status.phase < phase and status.status == "running":
        await traffic.run_for(1.0)
        status = await act(rt.ref(NAME), "status")
    return status


async def _crash_orchestrator(rt: bastion.Runtime) -> None:
    cell = rt.whereis(NAME)
    assert cell is not None
    cell.kill(RuntimeError("the orchestrator crashed"))
    await cell.wait_stopped(timeout=1.0)
    await rt.wait_idle(timeout=1.0)
    assert rt.whereis(NAME) is not None  # restarted by its supervisor


async def _finish(rt: bastion.Runtime, traffic: Traffic) -> Any:
    status = await act(rt.ref(NAME), "status")
    for _ in range(200):
        if status.status != "running":
            break
        await traffic.run_for(2.0)
        status = await act(rt.ref(NAME), "status")
    return status


async def test_a_crash_mid_phase_resumes_the_same_phase_with_the_same_statistics(rt: Any) -> None:
    store = MemoryStore()
    flags, sup, traffic = await setup_rollout(rt, store, Behaviour())
    await traffic.run_for(5.0)  # baseline traffic for the preflight
    await act(rt.ref(NAME), "start", actor="ana")
    await _until_phase(rt, traffic, 2)
    await traffic.run_for(3.0)  # mid-phase: some calls into phase 3
    before = (await act(rt.ref(NAME), "status"), await act(rt.ref(NAME), "evidence"))
    assert before[0].phase_canary_calls > 0

    await _crash_orchestrator(rt)

    after = (await act(rt.ref(NAME), "status"), await act(rt.ref(NAME), "evidence"))
    assert after == before
    assert flags.get(FLAG).percentage == 25.0
    status = await _finish(rt, traffic)
    assert status.status == "promoted"
    entries = await act(rt.ref(NAME), "entries")
    promoted = [e.percent for e in entries if e.action == "promote"]
    assert promoted == [5.0, 25.0, 50.0, 100.0]  # each phase promoted exactly once
    assert [e.seq for e in entries] == list(range(len(entries)))  # no entry lost
    await sup.stop()


async def test_an_exposure_not_applied_before_a_crash_is_applied_on_restart_not_promoted_again(
    rt: Any,
) -> None:
    store = MemoryStore()
    flags, sup, traffic = await setup_rollout(rt, store, Behaviour())
    await traffic.run_for(5.0)  # baseline traffic for the preflight
    await act(rt.ref(NAME), "start", actor="ana")
    await _until_phase(rt, traffic, 1)
    # as if the process died between committing "promote to 5 %" and setting the flag
    await flags.set_percentage(FLAG, 1.0, actor="test", reason="lost write")
    journal = await act(rt.ref(NAME), "entries")

    await _crash_orchestrator(rt)

    assert flags.get(FLAG).percentage == 5.0
    assert await act(rt.ref(NAME), "entries") == journal
    await sup.stop()
