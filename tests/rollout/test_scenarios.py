"""Rollback scenarios through the real orchestrator on seeded synthetic counts (virtual time)."""

from __future__ import annotations

from typing import Any

import pytest

import bastion
from bastion.agents import act
from bastion.flags import Flag, Flags
from bastion.persistence import MemoryStore
from bastion.rollout import InvalidTransition, RolloutPlan
from bastion.rollout._orchestrator import RolloutOrchestrator, orchestrator_name
from tests.rollout._synthetic import SyntheticSource

FLAG = "new-step"
NAME = orchestrator_name(FLAG)


async def _start(rt: bastion.Runtime, plan: RolloutPlan | None = None, **behaviour: Any) -> Any:
    store = MemoryStore()
    flags = await Flags.open(store, clock=rt.clock.now)
    await flags.define(Flag.boolean(FLAG), actor="test", reason="define")
    source = SyntheticSource(flags, rt.clock, **behaviour)
    plan = plan or RolloutPlan(flag=FLAG).fitted_to(source.rate)
    sup = await rt.start_supervisor(
        [
            bastion.ChildSpec(
                "rollout",
                RolloutOrchestrator,
                name=NAME,
                kwargs={"flags": flags, "plan": plan, "store": store, "source": source},
            )
        ]
    )
    # the counts are synthetic: rt.metrics has no baseline traffic for the preflight
    await act(rt.ref(NAME), "start", actor="ana", reason="test", preflight=False)
    return flags, sup


async def _wait_until_done(rt: bastion.Runtime, clock: Any, limit: float = 20_000.0) -> Any:
    status = await act(rt.ref(NAME), "status")
    waited = 0.0
    while status.status in ("running", "inconclusive") and waited < limit:
        await clock.advance(10.0)  # ten ticks of traffic
        waited += 10.0
        status = await act(rt.ref(NAME), "status")
    return status


@pytest.mark.parametrize(
    ("errors", "signal"), [(0.05, "errors alarm"), (0.02, "errors alarm"), (0.6, "errors alarm")]
)
async def test_error_regressions_are_rolled_back(
    rt: Any, clock: Any, errors: float, signal: str
) -> None:
    flags, sup = await _start(rt, canary_errors=errors)
    status = await _wait_until_done(rt, clock)
    assert status.status == "rolled_back"
    assert status.reason in (signal, "absolute alarm")
    assert flags.get(FLAG).percentage == 0.0
    await sup.stop()


async def test_a_restart_storm_rolls_back_within_a_tick_of_breaching_the_intensity(
    rt: Any, clock: Any
) -> None:
    flags, sup = await _start(rt, canary_restarts_per_s=2.0)
    status = await _wait_until_done(rt, clock)
    assert (status.status, status.reason) == ("rolled_back", "restart_intensity alarm")
    last = (await act(rt.ref(NAME), "entries"))[-1]
    guard = next(e for e in last.evidence if e.signal == "restart_intensity")
    assert guard.alarm
    assert guard.statistic > guard.threshold  # more restarts in the period than allowed
    assert flags.get(FLAG).percentage == 0.0
    await sup.stop()


async def test_no_canary_traffic_is_inconclusive_then_rolled_back_for_insufficient_exposure(
    rt: Any, clock: Any
) -> None:
    plan = RolloutPlan(flag=FLAG, min_dwell=60.0)
    flags, sup = await _start(rt, plan, rate=0.0)
    status = await _wait_until_done(rt, clock)
    assert (status.status, status.reason) == ("rolled_back", "insufficient_exposure")
    entries = await act(rt.ref(NAME), "entries")
    assert [e.action for e in entries] == ["start", "inconclusive", "rollback"]
    assert entries[1].at == pytest.approx(120.0, abs=1.01)  # 2 dwells
    assert entries[2].at == pytest.approx(240.0, abs=1.01)  # 4 dwells
    assert flags.get(FLAG).percentage == 0.0
    await sup.stop()


async def _reach(rt: bastion.Runtime, clock: Any, state: str) -> None:
    ref = rt.ref(NAME)
    if state == "paused":
        await act(ref, "pause", actor="bob", reason="look")
    elif state == "phase 4":
        for _ in range(3):
            await act(ref, "promote", actor="bob", reason="hurry", force=True)
    elif state == "promoted":
        for _ in range(5):
            await act(ref, "promote", actor="bob", reason="hurry", force=True)
    elif state == "inconclusive":
        await clock.advance(700.0)  # rate 0: no canary calls
    status = await act(ref, "status")
    assert status.status == state.replace("phase 4", "running"), status


@pytest.mark.parametrize("state", ["running", "paused", "inconclusive", "phase 4", "promoted"])
async def test_manual_rollback_sets_exposure_to_zero_from_every_state(
    rt: Any, clock: Any, state: str
) -> None:
    plan = RolloutPlan(flag=FLAG, min_dwell=300.0)
    flags, sup = await _start(rt, plan, rate=0.0 if state == "inconclusive" else 200.0)
    await _reach(rt, clock, state)
    status = await act(rt.ref(NAME), "rollback", actor="oncall", reason="pager")
    assert status.status == "rolled_back"
    assert flags.get(FLAG).percentage == 0.0
    assert flags.evaluate(FLAG, "anyone", cohort=False).variant == "off"
    last = (await act(rt.ref(NAME), "entries"))[-1]
    assert (last.action, last.actor, last.reason) == ("manual_rollback", "oncall", "pager")
    with pytest.raises(InvalidTransition):
        await act(rt.ref(NAME), "rollback", actor="oncall", reason="again")
    retried = await act(rt.ref(NAME), "retry", actor="oncall", reason="fixed")
    assert (retried.status, retried.attempt, retried.phase) == ("running", 2, 0)
    assert flags.get(FLAG).percentage == 1.0
    await sup.stop()


async def test_a_forced_promotion_needs_a_reason_and_an_unforced_one_needs_evidence(
    rt: Any,
) -> None:
    _flags, sup = await _start(rt, RolloutPlan(flag=FLAG, min_dwell=300.0), rate=0.0)
    with pytest.raises(InvalidTransition, match="force"):
        await act(rt.ref(NAME), "promote", actor="bob")
    with pytest.raises(bastion.ValidationError, match="reason"):
        await act(rt.ref(NAME), "promote", actor="bob", force=True)
    assert (await act(rt.ref(NAME), "status")).phase == 0
    await sup.stop()
