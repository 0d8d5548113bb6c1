"""``bastion demo --rollout``: roll the candidate ``enrich`` out behind ``demo.step_impl``.

Requests for documents are routed by the flag (per document) to an ``Enricher`` actor
under a supervisor, while chaos makes every step attempt hit an outage now and then (in
both cohorts alike). The bad candidate (``--rollout`` / ``--rollout=bad``) also crashes
on a share of its documents; the good one (``--rollout=good``) does not. A
:class:`~bastion.rollout.RolloutOrchestrator` on the demo's store drives the flag
through its phases and rolls it back — or promotes it to 100 % — on its own, and the
summary shows the decision and its evidence.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

import msgspec

from bastion import Actor, ActorCrashed, ChildSpec, RestartIntensity, Runtime
from bastion.agents import act
from bastion.demo._steps import SimulatedOutage
from bastion.flags import DEMO_STEP_IMPL, Flags
from bastion.persistence import SQLiteStore
from bastion.rollout import RolloutOrchestrator, RolloutPlan, orchestrator_name

__all__ = ["RolloutDemoSummary", "demo_plan", "run_rollout_demo"]

#: Share of the bad candidate's documents that crash its enrich step.
BAD_CANDIDATE_CRASHES = 0.5
LIVE = ("running", "paused", "inconclusive")


def demo_plan(calls_per_second: float) -> RolloutPlan:
    """The demo's plan: five phases in seconds instead of minutes, fitted to the traffic
    measured during the warm-up (as the preflight report proposes)."""
    return RolloutPlan(
        flag=DEMO_STEP_IMPL.key,
        phases=(2, 10, 25, 50, 100),
        min_dwell=1.0,
        min_canary_calls=25,
        tick=0.1,
        error_slo=0.1,
        inconclusive_after=3.0,
        max_hold=10.0,  # a loaded machine may serve fewer requests than the warm-up did
    ).fitted_to(max(1.0, calls_per_second))


class Enricher(Actor):
    """The enrich step behind the flag: outages for both, crashes for the bad candidate."""

    def __init__(self, rng: random.Random, chaos: float, bad: bool) -> None:
        self.rng, self.chaos, self.bad = rng, chaos, bad

    async def handle_call(self, message: Any) -> str:
        variant, doc = message
        await asyncio.sleep(0)  # the step's I/O
        if self.rng.random() < self.chaos:
            raise SimulatedOutage(f"enrich of {doc}: dependency timed out")
        if variant == "candidate" and self.bad and self.rng.random() < BAD_CANDIDATE_CRASHES:
            raise RuntimeError(f"the candidate enrich failed on {doc}")
        return str(variant)


@dataclass(frozen=True, slots=True)
class RolloutDemoSummary:
    """How the rollout ended, with the decisions and the evidence of the last one."""

    candidate: str
    status: str
    reason: str
    exposure: float
    attempt: int
    requests: int
    candidate_requests: int
    failed_requests: int
    seconds: float
    decisions: list[dict[str, Any]]
    evidence: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready builtins."""
        return asdict(self)


async def run_rollout_demo(
    runtime: Runtime, db: Any, *, good: bool, chaos: float, seed: int, timeout: float
) -> RolloutDemoSummary:
    """Roll the (good or bad) candidate out while requests flow; stop when it is decided."""
    started = time.monotonic()
    store = await SQLiteStore.open(db)
    flags = await Flags.open(store, namespace="flags", clock=runtime.clock.now)
    await flags.ensure(DEMO_STEP_IMPL, actor="bastion demo", reason="the demo's enrich step flag")
    rng = random.Random(seed)
    name = orchestrator_name(DEMO_STEP_IMPL.key)
    sup = await runtime.start_supervisor(
        [
            ChildSpec("enricher", Enricher, (rng, min(chaos, 0.05), not good), name="enricher"),
            ChildSpec(
                "rollout",
                RolloutOrchestrator,
                name=name,
                kwargs={"flags": flags, "store": store},
            ),
        ],
        intensity=RestartIntensity(100_000, max_seconds=1.0),
        name="rollout-demo",
    )
    counts = {"requests": 0, "candidate": 0, "failed": 0}
    try:
        rollout = runtime.ref(name)

        async def traffic(seconds: float) -> None:
            end = runtime.clock.now() + seconds
            while runtime.clock.now() < end:
                doc = f"doc-{rng.randrange(1_000_000)}"
                with flags.scope(DEMO_STEP_IMPL.key, doc) as chosen:
                    counts["requests"] += 1
                    counts["candidate"] += chosen.variant == "candidate"
                    try:
                        await runtime.ref("enricher").call((chosen.variant, doc), timeout=2.0)
                    except ActorCrashed:
                        counts["failed"] += 1
                await asyncio.sleep(0.001)  # the next request

        await traffic(2.0)  # baseline traffic for the preflight, and its rate
        plan = demo_plan(counts["requests"] / 2.0)
        status = await act(rollout, "status")
        if status.status == "pending":
            why = "roll out the candidate"
            await act(rollout, "start", actor="bastion demo", reason=why, plan=plan)
        elif status.status not in LIVE:
            await act(rollout, "retry", actor="bastion demo", reason="a new demo run")
        deadline = started + timeout
        while (await act(rollout, "status")).status in LIVE and time.monotonic() < deadline:
            await traffic(0.25)
        status = await act(rollout, "status")
        entries = await act(rollout, "entries")
        mine = [e for e in entries if e.attempt == status.attempt]
        summary = RolloutDemoSummary(
            candidate="good" if good else "bad",
            status=status.status,
            reason=status.reason,
            exposure=flags.get(DEMO_STEP_IMPL.key).percentage,
            attempt=status.attempt,
            requests=counts["requests"],
            candidate_requests=counts["candidate"],
            failed_requests=counts["failed"],
            seconds=round(time.monotonic() - started, 1),
            decisions=[
                {"action": e.action, "exposure": e.percent, "reason": e.reason, "actor": e.actor}
                for e in mine
            ],
            evidence=[msgspec.to_builtins(v) for v in (mine[-1].evidence if mine else ())],
        )
        await sup.stop(timeout=30.0)
        return summary
    finally:
        await flags.aclose()
        await store.close()
