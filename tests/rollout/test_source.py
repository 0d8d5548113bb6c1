"""Counts per cohort from rt.metrics: errors exclude business errors; restarts by supervisor."""

from __future__ import annotations

import contextlib
from typing import Any

import bastion
from bastion.rollout import CohortCounts, RolloutPlan
from bastion.rollout._source import MetricsSource, delta
from bastion.telemetry import cohort


class Worker(bastion.Actor):
    def handle_call(self, message: str) -> str:
        if message == "crash":
            raise RuntimeError("boom")
        if message == "decline":
            raise bastion.BusinessError("declined")
        return "ok"


async def test_totals_count_crashes_not_business_errors_and_restarts_by_supervisor(
    rt: Any,
) -> None:
    plan = RolloutPlan(flag="f", canary_supervisors=("canary-sup",))
    sup = await rt.start_supervisor(
        [bastion.ChildSpec("w", Worker, name="w")],
        name="canary-sup",
        intensity=bastion.RestartIntensity(100, 1.0),
    )
    with cohort(plan.canary):
        for message in ("ok", "ok", "decline", "crash"):
            with contextlib.suppress(bastion.ActorCrashed, bastion.BusinessError):
                await rt.ref("w").call(message, timeout=1.0)
    await rt.wait_idle(timeout=1.0)
    with cohort(plan.baseline):
        await rt.ref("w").call("ok", timeout=1.0)
    source = MetricsSource(rt.metrics)
    calls, errors, slow, restarts = source.totals(plan, plan.canary, None)
    assert (calls, errors, slow, restarts) == (4, 1, 0, 1)
    assert source.totals(plan, plan.baseline, None) == [1, 0, 0, 0]
    bound, seen = source.latency_percentile(plan.canary, 95.0)
    assert seen == 4
    assert source.totals(plan, plan.canary, bound / 2)[2] >= 1  # slow above half the p95
    await sup.stop()


def test_a_counter_that_went_down_restarted_from_zero() -> None:
    assert delta([5, 1, 0, 0], [3, 1, 0, 0]) == CohortCounts(2, 0, 0, 0)
    assert delta([2, 0, 0, 0], [900, 9, 3, 1]) == CohortCounts(2, 0, 0, 0)
