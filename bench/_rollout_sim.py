"""Seeded synthetic workload for the rollout benchmark, fed to the real RolloutMachine.

A stream is drawn per phase (so two detectors given one seed see the same calls until
one of them stops): per tick of ``dt`` seconds, canary and baseline calls are Poisson
(``rate * share * dt``), errors and slow calls binomial among them, restarts Poisson in
proportion to exposure. A fault changes the canary's rates from ``fault_phase`` on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from bastion.rollout import CohortCounts, RolloutMachine, RolloutPlan, Status, TickCounts
from bastion.rollout._model import JournalEntry

BASE_ERRORS = 0.01
BASE_SLOW = 0.05  # above the baseline's p95, by definition
RESTARTS_PER_S = 1 / 3600  # healthy background restarts, both cohorts by exposure


@dataclass(frozen=True)
class Workload:
    """Traffic and the canary's behaviour (a fault when it differs from the baseline)."""

    rate: float
    dt: float
    canary_errors: float = BASE_ERRORS
    canary_slow: float = BASE_SLOW
    storm_per_s: float = 0.0  # extra canary restarts per second during the fault
    fault_phase: int = 0
    no_canary: bool = False


@dataclass
class Outcome:
    """What happened to one rollout."""

    status: Status
    reason: str
    phase: int
    at: float
    fault_at: float | None
    canary_calls_since_fault: int
    entries: list[JournalEntry] = field(default_factory=list)
    breach_at: float | None = None  # end of the tick in which restarts broke the intensity
    calls: int = 0  # every call, both cohorts, from the start to the decision
    canary_errors: int = 0  # canary errors from the fault to the decision

    @property
    def rolled_back(self) -> bool:
        """Whether the rollout ended at 0 %."""
        return self.status is Status.ROLLED_BACK

    @property
    def seconds_since_fault(self) -> float:
        """Decision time after the fault began (nan without a fault)."""
        return self.at - self.fault_at if self.fault_at is not None else math.nan


def _phase_stream(work: Workload, plan: RolloutPlan, phase: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng([seed, phase])
    w = plan.phases[phase] / 100.0
    if work.no_canary:
        w = 0.0
    ticks = math.ceil(plan.max_hold * plan.dwell(phase) / work.dt) + 2
    faulty = phase >= work.fault_phase
    pc = work.canary_errors if faulty else BASE_ERRORS
    sc = work.canary_slow if faulty else BASE_SLOW
    storm = work.storm_per_s if faulty else 0.0
    nc = rng.poisson(work.rate * w * work.dt, ticks)
    nb = rng.poisson(work.rate * (1 - w) * work.dt, ticks)
    return [
        nc.tolist(),
        rng.binomial(nc, pc).tolist(),
        rng.binomial(nc, sc).tolist(),
        rng.poisson((RESTARTS_PER_S * w + storm) * work.dt, ticks).tolist(),
        nb.tolist(),
        rng.binomial(nb, BASE_ERRORS).tolist(),
        rng.binomial(nb, BASE_SLOW).tolist(),
        rng.poisson(RESTARTS_PER_S * (1 - w) * work.dt, ticks).tolist(),
    ]


class StaticGate:
    """Flagger-style: canary success rate per ``interval`` >= ``minimum`` %, else a failed
    check (also when the window has no canary calls: "no values found"); roll back at
    ``threshold`` failed checks."""

    def __init__(self, minimum: float, interval: float = 60.0, threshold: int = 5) -> None:
        self.minimum, self.interval, self.threshold = minimum, interval, threshold
        self.failed = 0
        self._calls = self._errors = 0
        self._window_end = interval

    def tick(self, now: float, calls: int, errors: int) -> bool:
        """Add a tick; True when the gate rolls back."""
        self._calls += calls
        self._errors += errors
        if now + 1e-9 >= self._window_end:
            ok = self._calls > 0 and 100.0 * (1 - self._errors / self._calls) >= self.minimum
            self.failed += 0 if ok else 1
            self._calls = self._errors = 0
            self._window_end += self.interval
        return self.failed >= self.threshold


def run_rollout(
    plan: RolloutPlan, work: Workload, seed: int, gate: StaticGate | None = None
) -> Outcome:
    """One rollout through the real machine (or, with ``gate``, the static gate deciding
    rollback while the machine only schedules the phases: its plan must not alarm)."""
    machine = RolloutMachine(plan)
    entries = [machine.start(0.0, "bench")]
    now, fault_at, since = 0.0, None, 0
    restarts: list[float] = []
    breach_at: float | None = None
    calls = canary_errors = 0
    while True:
        phase = machine.state.phase
        if fault_at is None and phase >= work.fault_phase:
            fault_at = now
        stream = _phase_stream(work, plan, phase, seed)
        for i in range(len(stream[0])):
            now += work.dt
            c = CohortCounts(stream[0][i], stream[1][i], stream[2][i], stream[3][i])
            b = CohortCounts(stream[4][i], stream[5][i], stream[6][i], stream[7][i])
            calls += c.calls + b.calls
            if fault_at is not None:
                since += c.calls
                canary_errors += c.errors
            if c.restarts and breach_at is None:
                restarts += [now] * c.restarts
                recent = [t for t in restarts if t > now - plan.restart_period]
                breach_at = now if len(recent) > plan.restart_intensity else None
            if gate is not None and gate.tick(now, c.calls, c.errors):
                return Outcome(Status.ROLLED_BACK, "static", phase, now, fault_at, since)
            new = machine.tick(TickCounts(now, c, b))
            if not new:
                continue
            entries.extend(new)
            status = machine.state.status
            if status in (Status.PROMOTED, Status.ROLLED_BACK):
                reason = new[-1].reason
                return Outcome(
                    status,
                    reason,
                    phase,
                    now,
                    fault_at,
                    since,
                    entries,
                    breach_at,
                    calls,
                    canary_errors,
                )
            if machine.state.phase != phase:
                break
        else:
            raise AssertionError("a phase outlived its max_hold without a decision")


def run_per_event(plan: RolloutPlan, work: Workload, seed: int) -> Outcome:
    """The same stream fed one call (or restart) at a time, in a seeded random order
    within each tick, every event with the tick's exposure share."""
    machine = RolloutMachine(plan)
    machine.start(0.0, "bench")
    shuffle = np.random.default_rng([seed, 99])
    now = 0.0
    while True:
        phase = machine.state.phase
        stream = _phase_stream(work, plan, phase, seed)
        for i in range(len(stream[0])):
            events = _events(stream, i, shuffle)
            share = stream[0][i] / max(1, stream[0][i] + stream[4][i])
            for k, (cohort, count) in enumerate(events):
                at = now + work.dt * (k + 1) / len(events)
                counts = TickCounts(at, **{cohort: count}, share=share)
                new = machine.tick(counts)
                if new and machine.state.status in (Status.PROMOTED, Status.ROLLED_BACK):
                    return Outcome(machine.state.status, new[-1].reason, phase, at, None, 0)
            now += work.dt
            new = machine.tick(TickCounts(now))
            if new and machine.state.status in (Status.PROMOTED, Status.ROLLED_BACK):
                return Outcome(machine.state.status, new[-1].reason, phase, now, None, 0)
            if machine.state.phase != phase:
                break


def _events(
    stream: list[list[int]], i: int, rng: np.random.Generator
) -> list[tuple[str, CohortCounts]]:
    events: list[tuple[str, CohortCounts]] = []
    for cohort, base in (("canary", 0), ("baseline", 4)):
        calls, errors, slow, restarts = (stream[base + j][i] for j in range(4))
        flags = [(k < errors, k < slow) for k in range(calls)]
        events += [(cohort, CohortCounts(1, int(e), int(s))) for e, s in flags]
        events += [(cohort, CohortCounts(0, 0, 0, 1)) for _ in range(restarts)]
    order = rng.permutation(len(events)).tolist()
    return [events[j] for j in order]
