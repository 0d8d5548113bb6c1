"""The orchestrator under virtual time: healthy promotion, regressions, business errors."""

from __future__ import annotations

from typing import Any

import bastion
from bastion.agents import act
from bastion.persistence import MemoryStore
from bastion.rollout._orchestrator import orchestrator_name
from tests.rollout._workload import FLAG, Behaviour, setup_rollout, small_plan

NAME = orchestrator_name(FLAG)


async def _run_until_done(rt: bastion.Runtime, traffic: Any, limit: float = 600.0) -> Any:
    status = await act(rt.ref(NAME), "status")
    waited = 0.0
    while status.status in ("running", "paused", "inconclusive") and waited < limit:
        await traffic.run_for(5.0)
        waited += 5.0
        status = await act(rt.ref(NAME), "status")
    return status


async def test_a_healthy_canary_is_promoted_phase_by_phase_to_100_percent(rt: Any) -> None:
    store = MemoryStore()
    flags, sup, traffic = await setup_rollout(rt, store, Behaviour())
    await traffic.run_for(5.0)  # baseline traffic for the preflight
    await act(rt.ref(NAME), "start", actor="ana", reason="ship it")
    assert flags.get(FLAG).percentage == 1.0
    status = await _run_until_done(rt, traffic)
    assert status.status == "promoted", status
    assert flags.get(FLAG).percentage == 100.0
    entries = await act(rt.ref(NAME), "entries")
    actions = [e.action for e in entries]
    assert actions == ["start", "promote", "promote", "promote", "promote", "complete"]
    assert [e.percent for e in entries[1:5]] == [5.0, 25.0, 50.0, 100.0]
    assert entries[0].actor == "ana"
    assert entries[0].reason == "ship it"
    await sup.stop()


async def test_a_crashing_canary_is_rolled_back_to_zero_with_its_evidence(rt: Any) -> None:
    store = MemoryStore()
    flags, sup, traffic = await setup_rollout(rt, store, Behaviour(canary_errors=0.6))
    await traffic.run_for(5.0)  # baseline traffic for the preflight
    await act(rt.ref(NAME), "start", actor="ana")
    status = await _run_until_done(rt, traffic)
    assert status.status == "rolled_back"
    assert status.reason in ("errors alarm", "absolute alarm")
    assert flags.get(FLAG).percentage == 0.0
    last = (await act(rt.ref(NAME), "entries"))[-1]
    fired = [e for e in last.evidence if e.alarm]
    assert fired
    assert fired[0].statistic >= fired[0].threshold
    assert fired[0].canary_events > 0
    assert fired[0].canary_exposure >= fired[0].canary_events
    await sup.stop()


async def test_business_errors_of_the_canary_never_count_as_errors(rt: Any) -> None:
    store = MemoryStore()
    behaviour = Behaviour(business_errors=0.5)
    _flags, sup, traffic = await setup_rollout(rt, store, behaviour)
    await traffic.run_for(5.0)  # baseline traffic for the preflight
    await act(rt.ref(NAME), "start", actor="ana")
    status = await _run_until_done(rt, traffic)
    assert status.status == "promoted", status.reason
    assert "BusinessError" in traffic.errors
    await sup.stop()


async def test_a_latency_regression_is_rolled_back_on_the_latency_signal(rt: Any) -> None:
    store = MemoryStore()
    behaviour = Behaviour(canary_delay=0.004, base_delay=0.001, canary_errors=0.0, base_errors=0.0)
    plan = small_plan(min_canary_calls=200)
    flags, sup, traffic = await setup_rollout(rt, store, behaviour, plan)
    await traffic.run_for(5.0)  # baseline traffic for the preflight
    await act(rt.ref(NAME), "start", actor="ana")
    status = await _run_until_done(rt, traffic, limit=2000.0)
    assert (status.status, status.reason) == ("rolled_back", "latency alarm")
    assert flags.get(FLAG).percentage == 0.0
    await sup.stop()
