"""``RolloutPlan``: the phases, the error budget and the gates of one rollout."""

from __future__ import annotations

import itertools
import math

import msgspec

__all__ = ["DEFAULT_PHASES", "RolloutPlan"]

#: Canary exposure per phase, in percent of subjects.
DEFAULT_PHASES: tuple[float, ...] = (1.0, 5.0, 25.0, 50.0, 100.0)


def _positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


class RolloutPlan(msgspec.Struct, frozen=True, kw_only=True):
    """How one flag is rolled out.

    * ``phases``: canary percentages, strictly increasing and ending at 100.
    * ``alpha``: the false-rollback budget of the whole rollout (all phases, all
      signals, looked at continuously), split 50 % errors, 10 % restarts (the hard
      restart-intensity guard does most of that job), 20 % latency, 20 % absolute SLO guard.
    * A phase is promoted when the canary saw ``min_canary_calls`` calls in it, it lasted
      ``min_dwell`` seconds (``dwells`` per phase overrides it) and no test alarmed. A
      phase short of calls is INCONCLUSIVE after ``inconclusive_after`` dwells and rolled
      back (``insufficient_exposure``) after ``max_hold`` dwells.
    * ``error_slo``: the error rate the canary must stay under (absolute guard).
    * ``restart_intensity`` / ``restart_period``: more canary restarts than that in the
      period roll back at once.
    * ``canary_cohort`` / ``baseline_cohort``: the metrics cohorts compared (by default
      the labels flag evaluation sets: ``"<flag>=on"`` and ``"<flag>=off"``).
    """

    flag: str
    phases: tuple[float, ...] = DEFAULT_PHASES
    alpha: float = 0.01
    min_dwell: float = 300.0
    dwells: tuple[float, ...] = ()
    min_canary_calls: int = 400
    inconclusive_after: float = 2.0
    max_hold: float = 4.0
    error_slo: float = 0.02
    restart_intensity: int = 1
    restart_period: float = 5.0
    latency: bool = True
    tick: float = 1.0
    canary_cohort: str = ""
    baseline_cohort: str = ""
    canary_supervisors: tuple[str, ...] = ()
    baseline_supervisors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.flag, str) or not self.flag:
            raise ValueError(f"flag must be a non-empty string, got {self.flag!r}")
        self._check_phases()
        if isinstance(self.alpha, bool) or not 0 < self.alpha <= 0.1:
            raise ValueError(f"alpha must be in (0, 0.1], got {self.alpha!r}")
        for name in ("min_dwell", "tick", "restart_period", "error_slo"):
            _positive(name, getattr(self, name))
        if self.error_slo >= 0.5:
            raise ValueError(f"error_slo must be < 0.5, got {self.error_slo!r}")
        if not 1.0 <= self.inconclusive_after <= self.max_hold:
            raise ValueError(
                "need 1 <= inconclusive_after <= max_hold (in dwells), got "
                f"{self.inconclusive_after!r} and {self.max_hold!r}"
            )
        if isinstance(self.min_canary_calls, bool) or self.min_canary_calls < 1:
            raise ValueError(f"min_canary_calls must be >= 1, got {self.min_canary_calls!r}")
        if self.dwells and len(self.dwells) != len(self.phases):
            raise ValueError(
                f"dwells needs one value per phase ({len(self.phases)}), got {len(self.dwells)}"
            )
        for dwell in self.dwells:
            _positive("each dwell", dwell)

    def _check_phases(self) -> None:
        phases = self.phases
        if not phases or any(isinstance(p, bool) or not 0 < p <= 100 for p in phases):
            raise ValueError(f"phases must be percentages in (0, 100], got {phases!r}")
        if any(b <= a for a, b in itertools.pairwise(phases)):
            raise ValueError(f"phases must be strictly increasing, got {phases!r}")
        if phases[-1] != 100:
            raise ValueError(f"the last phase must be 100 (%), got {phases!r}")

    @property
    def canary(self) -> str:
        """The cohort label of the canary."""
        return self.canary_cohort or f"{self.flag}=on"

    @property
    def baseline(self) -> str:
        """The cohort label of the baseline."""
        return self.baseline_cohort or f"{self.flag}=off"

    def dwell(self, phase: int) -> float:
        """The minimum duration of ``phase`` (index), in seconds."""
        return self.dwells[phase] if self.dwells else self.min_dwell

    def alphas(self) -> dict[str, float]:
        """The budget of each signal; they add up to ``alpha`` (union bound)."""
        return {
            "errors": self.alpha * 0.5,
            "restarts": self.alpha * 0.1,
            "latency": self.alpha * 0.2,
            "absolute": self.alpha * 0.2,
        }

    def dwell_needed(self, phase: int, calls_per_second: float) -> float:
        """Seconds ``phase`` needs to see ``min_canary_calls`` canary calls at a traffic."""
        canary_rate = calls_per_second * self.phases[phase] / 100.0
        if canary_rate <= 0:
            return math.inf
        return self.min_canary_calls / canary_rate

    def fitted_to(self, calls_per_second: float) -> RolloutPlan:
        """This plan with each phase's dwell long enough for its canary calls.

        The dwell of a phase becomes ``max(min_dwell, min_canary_calls / canary calls per
        second)``, with a 10 % margin, so a phase is not held or rolled back for want of
        traffic that was predictable (the preflight report proposes this plan).
        """
        _positive("calls_per_second", calls_per_second)
        dwells = tuple(
            max(self.dwell(i), 1.1 * self.dwell_needed(i, calls_per_second))
            for i in range(len(self.phases))
        )
        return msgspec.structs.replace(self, dwells=dwells)
