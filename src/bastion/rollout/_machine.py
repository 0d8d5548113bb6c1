"""The rollout state machine: per-tick counts in, decisions with evidence out.

The machine is pure (no I/O, no clock of its own): the orchestrator feeds it the
metrics layer's counts per tick and manual actions, journals the entries it returns
together with :attr:`RolloutMachine.state`, and then sets the flag's exposure to
:attr:`RolloutMachine.percent`. The benchmark drives this same code.
"""

from __future__ import annotations

import msgspec

from bastion._core._errors import ValidationError
from bastion.rollout._errors import InvalidTransition, RolloutError
from bastion.rollout._model import (
    Evidence,
    JournalEntry,
    RolloutState,
    Status,
    TestState,
    TickCounts,
)
from bastion.rollout._plan import RolloutPlan
from bastion.rollout._statistic import (
    AbsoluteGuard,
    ComparativeTest,
    IntensityGuard,
    segment_weights,
)

__all__ = ["ORCHESTRATOR", "RolloutMachine"]

#: The actor recorded for automatic decisions.
ORCHESTRATOR = "orchestrator"

_CALLS, _ERRORS, _SLOW, _RESTARTS = range(4)


def _stored(test: TestState) -> tuple[list[float] | None, list[list[float]] | None]:
    return (test.cumulative or None), (test.offsets or None)


class RolloutMachine:
    """Drives one rollout of ``plan`` from ``state`` (a fresh one by default)."""

    def __init__(self, plan: RolloutPlan, state: RolloutState | None = None) -> None:
        self.plan = plan
        self.state = state if state is not None else RolloutState()
        self.next_seq = 0
        self._bind_tests()

    def _bind_tests(self) -> None:
        s, plan, budget = self.state, self.plan, self.plan.alphas()
        weights = segment_weights(len(plan.phases))
        self._errors = ComparativeTest(budget["errors"], *_stored(s.errors), weights=weights)
        self._restarts = ComparativeTest(budget["restarts"], *_stored(s.restarts), weights=weights)
        self._latency = ComparativeTest(budget["latency"], *_stored(s.latency), weights=weights)
        self._absolute = AbsoluteGuard(
            budget["absolute"], plan.error_slo, *_stored(s.absolute), weights=weights
        )
        self._intensity = IntensityGuard(
            plan.restart_intensity, plan.restart_period, s.restart_times
        )
        # the state shares the tests' lists, so it always holds the current statistics
        for stored, test in (
            (s.errors, self._errors),
            (s.restarts, self._restarts),
            (s.latency, self._latency),
            (s.absolute, self._absolute),
        ):
            stored.cumulative, stored.offsets = test.cumulative, test.offsets

    def _start_segments(self) -> None:
        for test in (self._errors, self._restarts, self._latency, self._absolute):
            test.start_segment()

    @property
    def percent(self) -> float:
        """The canary exposure the flag must have now (0 unless a phase is live)."""
        s = self.state
        if s.status.active or s.status is Status.PROMOTED:
            return self.plan.phases[s.phase]
        return 0.0

    # -- ticks --------------------------------------------------------------------------

    def tick(self, counts: TickCounts) -> list[JournalEntry]:
        """Add one tick of counts; return the decisions it caused (often none)."""
        s = self.state
        s.last_tick = counts.now
        if not s.status.active:
            return []
        self._add(counts)
        alarm = self._first_alarm()
        if alarm is not None:
            return [self._rollback(counts.now, ORCHESTRATOR, f"{alarm} alarm", "rollback")]
        return self._gate(counts.now)

    def _add(self, counts: TickCounts) -> None:
        s, c, b = self.state, counts.canary, counts.baseline
        for total, cohort in ((s.canary, c), (s.baseline, b)):
            total[_CALLS] += cohort.calls
            total[_ERRORS] += cohort.errors
            total[_SLOW] += cohort.slow
            total[_RESTARTS] += cohort.restarts
        exposure = c.calls + b.calls
        share = counts.share if counts.share >= 0 else (c.calls / exposure if exposure else 0.0)
        self._errors.update(c.errors, b.errors, share)
        self._restarts.update(c.restarts, b.restarts, share)
        if self.plan.latency:
            self._latency.update(c.slow, b.slow, share)
        self._absolute.update(c.calls, c.errors)
        if c.restarts or s.restart_times:
            self._intensity.update(counts.now, c.restarts)
            s.restart_times = self._intensity.times
        s.phase_canary_calls += c.calls

    def _first_alarm(self) -> str | None:
        if self._intensity.alarm:
            return "restart_intensity"
        for name, test in (
            ("errors", self._errors),
            ("absolute", self._absolute),
            ("restarts", self._restarts),
            ("latency", self._latency),
        ):
            if test.alarm:
                return name
        return None

    def _gate(self, now: float) -> list[JournalEntry]:
        s, plan = self.state, self.plan
        elapsed = now - s.phase_started
        dwell = plan.dwell(s.phase)
        entries: list[JournalEntry] = []
        if s.phase_canary_calls >= plan.min_canary_calls:
            if s.status is Status.INCONCLUSIVE:
                reason = "enough canary exposure"
                entries.append(
                    self._record(now, "exposure_reached", ORCHESTRATOR, reason, Status.RUNNING)
                )
            if s.status is Status.RUNNING and elapsed >= dwell:
                entries.append(self._advance(now, ORCHESTRATOR, "gate passed", "promote"))
            return entries
        if s.status is Status.PAUSED:
            return entries
        if elapsed >= plan.max_hold * dwell:
            reason = "insufficient_exposure"
            entries.append(self._rollback(now, ORCHESTRATOR, reason, "rollback"))
        elif elapsed >= plan.inconclusive_after * dwell and s.status is Status.RUNNING:
            reason = (
                f"{s.phase_canary_calls} of {plan.min_canary_calls} canary calls after "
                f"{elapsed:.0f} s"
            )
            entries.append(
                self._record(now, "inconclusive", ORCHESTRATOR, reason, Status.INCONCLUSIVE)
            )
        return entries

    # -- manual actions -----------------------------------------------------------------

    def start(self, now: float, actor: str, reason: str = "") -> JournalEntry:
        """Begin the first attempt at the first phase."""
        if self.state.status is not Status.PENDING:
            raise InvalidTransition(f"the rollout is already {self.state.status}; use retry")
        return self._begin(now, actor, reason, "start")

    def retry(self, now: float, actor: str, reason: str = "") -> JournalEntry:
        """A new attempt with fresh statistics, after a rollback or abort."""
        if self.state.status not in (Status.ROLLED_BACK, Status.ABORTED):
            raise InvalidTransition(
                f"retry needs a rolled-back rollout; this one is {self.state.status}"
            )
        return self._begin(now, actor, reason, "retry")

    def pause(self, now: float, actor: str, reason: str = "") -> JournalEntry:
        """Hold promotion; the tests keep watching and still roll back on an alarm."""
        if self.state.status not in (Status.RUNNING, Status.INCONCLUSIVE):
            raise InvalidTransition(f"only a running rollout can pause; it is {self.state.status}")
        return self._record(now, "pause", actor, reason, Status.PAUSED)

    def resume(self, now: float, actor: str, reason: str = "") -> JournalEntry:
        """Let a paused rollout promote again; the phase's dwell restarts now."""
        if self.state.status is not Status.PAUSED:
            raise InvalidTransition(f"only a paused rollout can resume; it is {self.state.status}")
        self.state.phase_started = now
        return self._record(now, "resume", actor, reason, Status.RUNNING)

    def promote(
        self, now: float, actor: str, reason: str = "", *, force: bool = False
    ) -> JournalEntry:
        """Promote the current phase now: on its evidence, or with ``force`` and a reason."""
        s, plan = self.state, self.plan
        if not s.status.active:
            raise InvalidTransition(f"only a live rollout can be promoted; it is {s.status}")
        if force and not reason.strip():
            raise ValidationError("promote --force needs a reason")
        if not force and s.phase_canary_calls < plan.min_canary_calls:
            raise InvalidTransition(
                f"phase {s.phase + 1} ({plan.phases[s.phase]:g} %) has {s.phase_canary_calls} "
                f"of the {plan.min_canary_calls} canary calls it needs; use force with a reason"
            )
        return self._advance(now, actor, reason, "force_promote" if force else "promote")

    def rollback(self, now: float, actor: str, reason: str = "") -> JournalEntry:
        """Emergency rollback to 0 % from any state, also after 100 %."""
        s = self.state
        if s.status is Status.PENDING:
            return self._record(now, "abort", actor, reason, Status.ABORTED)
        if not (s.status.active or s.status is Status.PROMOTED):
            raise InvalidTransition(f"the rollout is already {s.status}; exposure is 0 %")
        return self._rollback(now, actor, reason, "manual_rollback")

    # -- transitions --------------------------------------------------------------------

    def _begin(self, now: float, actor: str, reason: str, action: str) -> JournalEntry:
        attempt = self.state.attempt + 1
        self.state = msgspec.structs.replace(RolloutState(), attempt=attempt)
        self._bind_tests()
        self.state.phase_started = now
        return self._record(now, action, actor, reason, Status.RUNNING)

    def _advance(self, now: float, actor: str, reason: str, action: str) -> JournalEntry:
        s = self.state
        if s.phase + 1 >= len(self.plan.phases):
            return self._record(
                now, "complete" if action == "promote" else action, actor, reason, Status.PROMOTED
            )
        target = s.phase + 1
        if target in s.promoted:
            raise RolloutError(f"phase {target + 1} was already promoted in this attempt")
        evidence = self.evidence()
        s.promoted.append(target)
        s.phase, s.phase_started, s.phase_canary_calls = target, now, 0
        self._start_segments()
        status = Status.PAUSED if s.status is Status.PAUSED else Status.RUNNING
        return self._record(now, action, actor, reason, status, evidence)

    def _rollback(self, now: float, actor: str, reason: str, action: str) -> JournalEntry:
        return self._record(now, action, actor, reason, Status.ROLLED_BACK)

    def _record(
        self,
        now: float,
        action: str,
        actor: str,
        reason: str,
        to_status: Status,
        evidence: tuple[Evidence, ...] | None = None,
    ) -> JournalEntry:
        if not isinstance(actor, str) or not actor:
            raise ValidationError(f"actor must be a non-empty string, got {actor!r}")
        s = self.state
        entry = JournalEntry(
            seq=self.next_seq,
            at=now,
            attempt=s.attempt,
            action=action,
            actor=actor,
            reason=reason,
            from_status=str(s.status),
            to_status=str(to_status),
            phase=s.phase,
            percent=self.plan.phases[s.phase],
            evidence=self.evidence() if evidence is None else evidence,
        )
        self.next_seq += 1
        s.status = to_status
        s.reason = reason
        return entry

    def evidence(self) -> tuple[Evidence, ...]:
        """Every signal's test as it stands (statistic, threshold, alpha, counts)."""
        s = self.state
        rows = []
        for name, test, index in (
            ("errors", self._errors, _ERRORS),
            ("restarts", self._restarts, _RESTARTS),
            ("latency", self._latency, _SLOW),
        ):
            rows.append(
                Evidence(
                    name,
                    test.statistic,
                    test.threshold,
                    test.alpha,
                    test.p_value,
                    s.canary[index],
                    s.canary[_CALLS],
                    s.baseline[index],
                    s.baseline[_CALLS],
                    test.alarm,
                )
            )
        g = self._absolute
        rows.append(
            Evidence(
                "absolute",
                g.statistic,
                g.threshold,
                g.alpha,
                g.p_value,
                s.canary[_ERRORS],
                s.canary[_CALLS],
                0,
                0,
                g.alarm,
            )
        )
        i = self._intensity
        rows.append(
            Evidence(
                "restart_intensity",
                float(len(i.times)),
                float(i.intensity),
                0.0,
                1.0,
                s.canary[_RESTARTS],
                s.canary[_CALLS],
                s.baseline[_RESTARTS],
                s.baseline[_CALLS],
                i.alarm,
            )
        )
        return tuple(rows)
