"""The preflight readiness report, and a corrupt flag store refusing the start."""

from __future__ import annotations

from typing import Any

import pytest

import bastion
from bastion.agents import act
from bastion.flags import Flag, Flags
from bastion.persistence import MemoryStore, Put
from bastion.rollout import PreflightFailed, RolloutPlan
from bastion.rollout._orchestrator import RolloutOrchestrator, orchestrator_name
from bastion.rollout._preflight import (
    CheckResult,
    PreflightContext,
    check_names,
    register_check,
    run_preflight,
    unregister_check,
)
from tests.rollout._workload import FLAG, Behaviour, setup_rollout


async def _flags(rt: bastion.Runtime, store: MemoryStore) -> Flags:
    flags = await Flags.open(store, clock=rt.clock.now)
    await flags.define(Flag.boolean(FLAG), actor="test", reason="define")
    return flags


async def test_a_ready_rollout_passes_every_check_it_can_run(rt: Any) -> None:
    store = MemoryStore()
    _, sup, traffic = await setup_rollout(rt, store, Behaviour(base_errors=0.0))
    await traffic.run_for(10.0)
    plan = RolloutPlan(flag=FLAG).fitted_to(50.0)
    report = await run_preflight(PreflightContext(plan, traffic.flags, store, rt.metrics))
    assert report.ok, report.lines()
    statuses = {r.name: r.status for r in report.results}
    assert statuses["bastion check clean"] == "skip"  # no source paths configured
    assert statuses["baseline traffic and metrics flowing"] == "pass"
    assert (
        report.summary == f"{len(report.results) - 1}/{len(report.results)} checks passed, "
        "1 skipped"
    )
    assert len(report.lines()) == len(report.results) + 1
    await sup.stop()


async def test_low_traffic_fails_the_projection_with_the_dwell_it_needs(rt: Any) -> None:
    store = MemoryStore()
    flags = await _flags(rt, store)
    context = PreflightContext(RolloutPlan(flag=FLAG), flags, store, calls_per_second=2.0)
    report = await run_preflight(context)
    failed = [r for r in report.results if r.status == "fail"]
    assert [r.name for r in failed] == ["canary calls per phase enough for the sensitivity"]
    assert "1 % needs a dwell of 20000 s" in failed[0].detail
    assert "fitted_to" in failed[0].fix
    assert not report.ok


async def test_a_registered_check_runs_and_its_fix_is_shown(rt: Any) -> None:
    store = MemoryStore()
    flags = await _flags(rt, store)

    @register_check("change ticket approved")
    def ticket(ctx: PreflightContext) -> CheckResult:
        return CheckResult("change ticket approved", "fail", "no ticket", "open one in the tracker")

    try:
        assert check_names()[-1] == "change ticket approved"
        report = await run_preflight(PreflightContext(RolloutPlan(flag=FLAG), flags, store))
        assert "FAIL change ticket approved: no ticket\n     fix: open one in the tracker" in (
            report.lines()
        )
        with pytest.raises(ValueError, match="already registered"):
            register_check("change ticket approved")(ticket)
    finally:
        unregister_check("change ticket approved")


async def test_a_corrupt_flag_store_is_quarantined_and_the_rollout_refuses_to_start(
    rt: Any,
) -> None:
    store = MemoryStore()
    await _flags(rt, store)
    await store.write([Put(f"flags/{FLAG}", "flag", b"{not json", expected_version=None)])
    flags = await Flags.open(store, clock=rt.clock.now)  # a restart finds it corrupt
    assert [q.key for q in flags.quarantined()] == [FLAG]
    sup = await rt.start_supervisor(
        [
            bastion.ChildSpec(
                "rollout",
                RolloutOrchestrator,
                name=orchestrator_name(FLAG),
                kwargs={"flags": flags, "plan": RolloutPlan(flag=FLAG), "store": store},
            )
        ]
    )
    with pytest.raises(PreflightFailed, match="quarantined"):
        await act(rt.ref(orchestrator_name(FLAG)), "start", actor="ana")
    status = await act(rt.ref(orchestrator_name(FLAG)), "status")
    assert status.status == "pending"
    await sup.stop()
