"""A small service behind a flag, its traffic, and an orchestrator to roll it out."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import bastion
from bastion.flags import Flag, Flags
from bastion.persistence import StateStore
from bastion.rollout import RolloutPlan
from bastion.rollout._orchestrator import RolloutOrchestrator, orchestrator_name

FLAG = "new-step"


@dataclass
class Behaviour:
    """How the canary (variant "on") behaves; the baseline errs ``base_errors`` of calls."""

    canary_errors: float = 0.01
    base_errors: float = 0.01
    canary_delay: float = 0.0
    base_delay: float = 0.0
    business_errors: float = 0.0  # canary raises BusinessError: must never count
    rng: random.Random = field(default_factory=lambda: random.Random(1))  # outlives restarts


class Step(bastion.Actor):
    """The step behind the flag: crashes or is slow by the behaviour of its variant."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.rng = behaviour.rng

    async def handle_call(self, message: Any) -> str:
        b = self.behaviour
        canary = message == "on"
        delay = b.canary_delay if canary else b.base_delay
        if delay:
            await self.runtime.clock.sleep(delay * (0.5 + self.rng.random()))  # the work
        if canary and self.rng.random() < b.business_errors:
            raise bastion.BusinessError("declined")
        if self.rng.random() < (b.canary_errors if canary else b.base_errors):
            raise RuntimeError(f"the {message} step failed")
        return "done"


@dataclass
class Traffic:
    """Requests at ``rate`` per second of virtual time, each routed by the flag."""

    flags: Flags
    step: bastion.ActorRef
    pause: Callable[[float], Awaitable[None]]  # lets time pass between requests
    rate: float = 50.0
    seed: int = 7
    sent: int = 0
    canary: int = 0
    errors: list[str] = field(default_factory=list)

    async def run_for(self, seconds: float) -> None:
        """Send ``rate * seconds`` requests, one every ``1 / rate`` seconds."""
        rng = random.Random(self.seed + self.sent)
        for _ in range(round(seconds * self.rate)):
            user = f"user-{rng.randrange(100_000)}"
            with self.flags.scope(FLAG, user) as ev:
                self.canary += ev.variant == "on"
                try:
                    await self.step.call(ev.variant, timeout=2.0)
                except (bastion.ActorCrashed, bastion.BusinessError, bastion.ActorNotAlive) as e:
                    self.errors.append(type(e).__name__)
            self.sent += 1
            await self.pause(1.0 / self.rate)


def small_plan(rate: float = 50.0, **changes: Any) -> RolloutPlan:
    """The default five phases, each of at least 10 s and 20 canary calls, fitted to
    ``rate`` requests per second (as the preflight report proposes)."""
    values: dict[str, Any] = {"flag": FLAG, "min_dwell": 10.0, "min_canary_calls": 20}
    values.update(changes)
    return RolloutPlan(**values).fitted_to(rate)


async def setup_rollout(
    rt: bastion.Runtime,
    store: StateStore,
    behaviour: Behaviour,
    plan: RolloutPlan | None = None,
) -> tuple[Flags, bastion.SupervisorHandle, Traffic]:
    """Flags on ``store`` with the flag defined, the step and the orchestrator supervised."""
    flags = await Flags.open(store, clock=rt.clock.now)
    await flags.ensure(Flag.boolean(FLAG), actor="test", reason="define")
    sup = await rt.start_supervisor(
        [
            bastion.ChildSpec("step", Step, name="step", args=(behaviour,)),
            bastion.ChildSpec(
                "rollout",
                RolloutOrchestrator,
                name=orchestrator_name(FLAG),
                kwargs={"flags": flags, "plan": plan or small_plan(), "store": store},
            ),
        ],
        intensity=bastion.RestartIntensity(10_000, 1.0),
    )
    return flags, sup, Traffic(flags, rt.ref("step"), rt.clock.sleep)
