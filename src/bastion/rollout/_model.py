"""The rollout's records: counts per tick, evidence, journal entries and its state."""

from __future__ import annotations

import enum

import msgspec

__all__ = [
    "CohortCounts",
    "Evidence",
    "JournalEntry",
    "RolloutState",
    "Status",
    "TestState",
    "TickCounts",
]


class Status(enum.StrEnum):
    """Where a rollout is (see the state diagram in ``docs/rollout.md``)."""

    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    INCONCLUSIVE = "inconclusive"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"

    @property
    def active(self) -> bool:
        """Whether the rollout is exposing a canary and watching it."""
        return self in (Status.RUNNING, Status.PAUSED, Status.INCONCLUSIVE)


class CohortCounts(msgspec.Struct, frozen=True):
    """What one cohort did during a tick."""

    calls: int = 0
    errors: int = 0
    slow: int = 0
    restarts: int = 0


class TickCounts(msgspec.Struct, frozen=True):
    """One tick of the metrics layer: counts per cohort at runtime-clock time ``now``.

    ``share`` is the canary's share of the exposure; by default (``-1``) it is measured
    from the calls of this tick. Pass it when feeding events one at a time.
    """

    now: float
    canary: CohortCounts = CohortCounts()
    baseline: CohortCounts = CohortCounts()
    share: float = -1.0


class Evidence(msgspec.Struct, frozen=True):
    """The state of one signal's test when a decision was taken."""

    signal: str
    statistic: float
    threshold: float
    alpha: float
    p_value: float
    canary_events: int
    canary_exposure: int
    baseline_events: int
    baseline_exposure: int
    alarm: bool


class JournalEntry(msgspec.Struct, frozen=True):
    """One decision or manual action, appended to the rollout's journal."""

    seq: int
    at: float
    attempt: int
    action: str
    actor: str
    reason: str
    from_status: str
    to_status: str
    phase: int
    percent: float
    evidence: tuple[Evidence, ...] = ()


class TestState(msgspec.Struct):
    """A sequential test's sufficient statistics: the cumulative log-likelihood ratio
    per alternative and its value where each segment (phase) started."""

    cumulative: list[float] = msgspec.field(default_factory=list)
    offsets: list[list[float]] = msgspec.field(default_factory=list)


class RolloutState(msgspec.Struct):
    """Everything a rollout needs to resume: status, phase and sufficient statistics."""

    status: Status = Status.PENDING
    attempt: int = 0
    phase: int = 0
    phase_started: float = 0.0
    phase_canary_calls: int = 0
    promoted: list[int] = msgspec.field(default_factory=list)
    last_tick: float = 0.0
    reason: str = ""
    errors: TestState = msgspec.field(default_factory=lambda: TestState())
    restarts: TestState = msgspec.field(default_factory=lambda: TestState())
    latency: TestState = msgspec.field(default_factory=lambda: TestState())
    absolute: TestState = msgspec.field(default_factory=lambda: TestState())
    restart_times: list[float] = msgspec.field(default_factory=list)
    #: calls, errors, slow calls and restarts of this attempt, per cohort
    canary: list[int] = msgspec.field(default_factory=lambda: [0, 0, 0, 0])
    baseline: list[int] = msgspec.field(default_factory=lambda: [0, 0, 0, 0])
