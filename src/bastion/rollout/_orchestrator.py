"""``RolloutOrchestrator``: the supervised, persistent actor that drives one flag.

Every tick (``plan.tick`` seconds of the runtime clock) it reads the metrics layer's
cumulative counts per cohort, feeds the difference since its cursor to the
:class:`RolloutMachine`, and **journals first, applies second**: the decisions, the
machine's state (sufficient statistics included) and the cursor are committed in one
write, and only then is the flag's exposure set. After a crash or ``kill -9`` the
restored state is the last committed one; ``setup`` re-applies its exposure (an
idempotent set, never a second promotion) and the next tick continues from the cursor.
"""

from __future__ import annotations

from typing import Any

import msgspec

from bastion.agents import ItemMap, PersistentAgent, action
from bastion.flags import Flags, FlagStoreCorrupt
from bastion.rollout._errors import InvalidTransition, PreflightFailed
from bastion.rollout._machine import RolloutMachine
from bastion.rollout._model import Evidence, JournalEntry, RolloutState, Status, TickCounts
from bastion.rollout._plan import RolloutPlan
from bastion.rollout._preflight import PreflightContext, run_preflight
from bastion.rollout._source import CountsSource, MetricsSource, delta

__all__ = ["RolloutOrchestrator", "RolloutStatus", "journal_key", "orchestrator_name"]

#: The baseline latency percentile that defines a "slow" call.
SLOW_PERCENTILE = 95.0
#: Baseline calls needed before that percentile is frozen for a phase.
SLOW_MIN_CALLS = 20


def orchestrator_name(flag: str) -> str:
    """The registered name (and persistence key) of the orchestrator of ``flag``."""
    return f"rollout:{flag}"


def journal_key(seq: int) -> str:
    """The journal item of entry ``seq`` (zero-padded, so items sort in order)."""
    return f"{seq:09d}"


class RolloutStatus(msgspec.Struct, frozen=True):
    """What ``status`` answers (the CLI and API show it as it is)."""

    flag: str
    status: str
    attempt: int
    phase: int
    phases: tuple[float, ...]
    percent: float
    phase_started: float
    phase_canary_calls: int
    min_canary_calls: int
    reason: str
    journal_length: int
    last_tick: float


class _Tick:
    """The orchestrator's timer message."""


class RolloutOrchestrator(PersistentAgent):
    """Drives ``flags``' flag through ``plan`` (see the module docstring).

    Spawn it under a supervisor with ``name=orchestrator_name(flag)`` and a
    ``store``; ``source`` defaults to the runtime's metrics. ``ticking=False`` makes a
    control-only incarnation (manual actions and reads, no counts), as the CLI uses.
    """

    persistent_fields = ("plan", "rollout", "journal", "next_seq", "cursor", "slow_above")
    state_type = "bastion.rollout"
    plan: RolloutPlan | None = None
    rollout: RolloutState = RolloutState()
    journal: ItemMap[JournalEntry] = ItemMap()
    next_seq: int = 0
    #: cumulative totals last read, canary then baseline: calls, errors, slow, restarts
    cursor: list[int] = [0] * 8
    #: the frozen slow-call bound of the current phase (-1: not frozen yet)
    slow_above: float = -1.0

    def __init__(
        self,
        *,
        flags: Flags,
        plan: RolloutPlan | None = None,
        source: CountsSource | None = None,
        ticking: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._flags = flags
        self._offered_plan = plan
        self._source = source
        self._machine: RolloutMachine | None = None
        self._ticking = not ticking  # ticking=False: control only (the CLI), never reads counts
        self._ticking_wanted = ticking

    # -- lifecycle ---------------------------------------------------------------------

    async def setup(self) -> None:
        """Resume: rebuild the machine from the restored state and re-apply its exposure."""
        if self._source is None:
            self._source = MetricsSource(self.runtime.metrics)
        if self.plan is None:
            self.plan = self._offered_plan
        if self.plan is not None:
            now = self.clock.now()
            if now < self.rollout.phase_started:  # a monotonic clock that began again (reboot)
                self.rollout.phase_started = now  # the phase's dwell restarts, its data stays
            self._machine = RolloutMachine(self.plan, self.rollout)
            self._machine.next_seq = self.next_seq
            await self._apply_exposure("resume after restart")
            if self.rollout.status.active:
                self._start_ticking()

    def _start_ticking(self) -> None:
        if not self._ticking and self.plan is not None:
            self.send_interval(self.plan.tick, _Tick())
            self._ticking = True

    async def _handle_internal(self, message: Any) -> bool:
        if not isinstance(message, _Tick):
            return await super()._handle_internal(message)
        if self._machine is not None and self.rollout.status.active:
            await self._tick()
        return True

    # -- ticks ---------------------------------------------------------------------------

    async def _tick(self) -> None:
        machine, plan, source = self._machine, self.plan, self._source
        assert machine is not None
        assert plan is not None
        assert source is not None
        self._freeze_slow_bound(plan, source)
        bound = self.slow_above if self.slow_above >= 0 else None
        canary = source.totals(plan, plan.canary, bound)
        baseline = source.totals(plan, plan.baseline, bound)
        counts = TickCounts(
            self.clock.now(),
            delta(canary, self.cursor[:4]),
            delta(baseline, self.cursor[4:]),
        )
        if bound is None:  # not frozen yet: the slow counts are not comparable
            counts = msgspec.structs.replace(
                counts,
                canary=msgspec.structs.replace(counts.canary, slow=0),
                baseline=msgspec.structs.replace(counts.baseline, slow=0),
            )
        self.cursor = canary + baseline
        phase = self.rollout.phase
        entries = machine.tick(counts)
        if self.rollout.phase != phase:
            self.slow_above = -1.0
        await self._commit(entries)

    def _freeze_slow_bound(self, plan: RolloutPlan, source: CountsSource) -> None:
        if self.slow_above >= 0 or not plan.latency:
            return
        value, calls = source.latency_percentile(plan.baseline, SLOW_PERCENTILE)
        if calls >= SLOW_MIN_CALLS and value > 0:
            self.slow_above = value
            canary = source.totals(plan, plan.canary, value)
            baseline = source.totals(plan, plan.baseline, value)
            self.cursor[2], self.cursor[6] = canary[2], baseline[2]  # count slow from now

    async def _commit(self, entries: list[JournalEntry]) -> None:
        """Journal the entries with the state in one write, then apply the exposure."""
        machine = self._machine
        assert machine is not None
        self.rollout = machine.state
        for entry in entries:
            self.journal[journal_key(entry.seq)] = entry
        self.next_seq = machine.next_seq
        await self.persist(wait=True)
        if entries:
            await self._apply_exposure(entries[-1].reason or entries[-1].action)

    async def _apply_exposure(self, reason: str) -> None:
        machine, plan = self._machine, self.plan
        if machine is None or plan is None:
            return
        if self.rollout.status is Status.PENDING:
            return  # nothing was exposed yet
        wanted = machine.percent
        try:
            if self._flags.get(plan.flag).percentage != wanted:
                await self._flags.set_percentage(
                    plan.flag, wanted, actor=f"rollout:{self.rollout.attempt}", reason=reason
                )
        except FlagStoreCorrupt as exc:
            # the flag serves nobody until it is defined again (then setup re-applies)
            self.set_health("degraded", flag_error=str(exc))

    # -- manual control ------------------------------------------------------------------

    async def _manual(self, step: Any) -> RolloutStatus:
        machine = self._machine
        if machine is None:
            raise InvalidTransition("no rollout was started here; start one first")
        entry = step(machine, self.clock.now())
        await self._commit([entry])
        if self.rollout.status.active:
            self._start_ticking()
        return self._status()

    @action
    async def start(
        self,
        actor: str,
        reason: str = "",
        plan: RolloutPlan | None = None,
        preflight: bool = True,
    ) -> RolloutStatus:
        """Run the preflight report, then begin the rollout (``plan`` or the one given at
        spawn). A failed check (or an unknown / quarantined flag) refuses the start with
        :class:`PreflightFailed`, whose message is the report."""
        if self._machine is not None and self.rollout.status is not Status.PENDING:
            raise InvalidTransition(
                f"a rollout of {self.plan.flag if self.plan else '?'} is {self.rollout.status}"
            )
        chosen = plan or self.plan or self._offered_plan
        if chosen is None:
            raise PreflightFailed("start needs a RolloutPlan")
        chosen = await self._check_flag(chosen)
        if preflight:
            context = PreflightContext(chosen, self._flags, self.store, self.runtime.metrics)
            report = await run_preflight(context)
            if not report.ok:
                raise PreflightFailed(
                    "\n".join(["preflight failed: " + report.lines()[0], *report.lines()[1:]]),
                    context={"report": [r.__dict__ for r in report.results]},
                )
        self.plan = chosen
        self._machine = RolloutMachine(chosen, self.rollout)
        self._machine.next_seq = self.next_seq
        self._count_from_now()
        return await self._manual(lambda m, now: m.start(now, actor, reason))

    async def _check_flag(self, plan: RolloutPlan) -> RolloutPlan:
        """The plan, its cohorts named after the flag's variants unless it names them."""
        from bastion.flags import FlagError

        try:
            flag = self._flags.get(plan.flag)
        except FlagError as exc:
            raise PreflightFailed(f"cannot roll out {plan.flag!r}: {exc}") from exc
        if flag.canary is None:
            raise PreflightFailed(
                f"flag {plan.flag!r} has no canary variant; set one "
                f"(flags.set(..., canary=<variant>)) before rolling it out"
            )
        return msgspec.structs.replace(
            plan,
            canary_cohort=plan.canary_cohort or flag.cohort(flag.canary),
            baseline_cohort=plan.baseline_cohort or flag.cohort(flag.default),
        )

    @action
    async def pause(self, actor: str, reason: str = "") -> RolloutStatus:
        """Hold promotion (the tests keep watching and still roll back)."""
        return await self._manual(lambda m, now: m.pause(now, actor, reason))

    @action
    async def resume(self, actor: str, reason: str = "") -> RolloutStatus:
        """Let a paused rollout promote again."""
        return await self._manual(lambda m, now: m.resume(now, actor, reason))

    @action
    async def promote(self, actor: str, reason: str = "", force: bool = False) -> RolloutStatus:
        """Promote the current phase now (``force`` skips the evidence; needs a reason)."""
        return await self._manual(lambda m, now: m.promote(now, actor, reason, force=force))

    @action
    async def rollback(self, actor: str, reason: str = "") -> RolloutStatus:
        """Emergency rollback to 0 % from any state (also after 100 %)."""
        return await self._manual(lambda m, now: m.rollback(now, actor, reason))

    @action
    async def retry(self, actor: str, reason: str = "") -> RolloutStatus:
        """A new attempt with fresh statistics after a rollback."""
        self._count_from_now()
        return await self._manual(lambda m, now: m.retry(now, actor, reason))

    def _count_from_now(self) -> None:
        """A new attempt counts the traffic from now on, not what the process saw before."""
        self.slow_above = -1.0
        plan, source = self.plan, self._source
        if not self._ticking_wanted:
            return  # control only: the node that reads the counts keeps its own position
        if plan is None or source is None:
            self.cursor = [0] * 8
            return
        self.cursor = source.totals(plan, plan.canary, None) + source.totals(
            plan, plan.baseline, None
        )

    # -- reads -----------------------------------------------------------------------------

    @action
    def status(self) -> RolloutStatus:
        """Where the rollout is."""
        return self._status()

    @action
    def evidence(self) -> list[Evidence]:
        """Every signal's test as it stands now (statistic, threshold, alpha, counts)."""
        return list(self._machine.evidence()) if self._machine is not None else []

    @action
    def entries(self, since: int = 0) -> list[JournalEntry]:
        """The journal from entry ``since`` on, oldest first."""
        return [self.journal[k] for k in sorted(self.journal) if self.journal[k].seq >= since]

    def _status(self) -> RolloutStatus:
        plan, s = self.plan, self.rollout
        phases = plan.phases if plan is not None else ()
        percent = self._machine.percent if self._machine is not None else 0.0
        return RolloutStatus(
            flag=plan.flag if plan is not None else "",
            status=str(s.status),
            attempt=s.attempt,
            phase=s.phase,
            phases=phases,
            percent=percent,
            phase_started=s.phase_started,
            phase_canary_calls=s.phase_canary_calls,
            min_canary_calls=plan.min_canary_calls if plan is not None else 0,
            reason=s.reason,
            journal_length=self.next_seq,
            last_tick=s.last_tick,
        )
