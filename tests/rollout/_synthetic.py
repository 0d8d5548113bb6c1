"""A seeded synthetic counts source: per-tick Poisson traffic split by the flag's exposure.

It stands in for ``rt.metrics`` so scenarios that need thousands of canary calls (a 2x
regression) run through the real orchestrator in virtual time without one actor call per
request. Totals are cumulative, as the metrics layer's are.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from bastion.flags import Flags
from bastion.rollout import RolloutPlan


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass
class SyntheticSource:
    """``rate`` calls/s; the canary's error rate, slow share and restarts per second."""

    flags: Flags
    clock: object
    rate: float = 200.0
    canary_errors: float = 0.01
    base_errors: float = 0.01
    canary_slow: float = 0.05
    canary_restarts_per_s: float = 0.0
    seed: int = 3
    rng: random.Random = field(init=False)
    last: float = field(init=False, default=0.0)
    sums: dict[str, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.sums = {"canary": [0, 0, 0, 0], "baseline": [0, 0, 0, 0]}

    def _advance(self, plan: RolloutPlan) -> None:
        now = self.clock.now()  # type: ignore[attr-defined]
        seconds, self.last = now - self.last, now
        share = self.flags.get(plan.flag).percentage / 100.0
        for cohort, weight, errors, slow, restarts in (
            ("canary", share, self.canary_errors, self.canary_slow, self.canary_restarts_per_s),
            ("baseline", 1 - share, self.base_errors, 0.05, 0.0),
        ):
            calls = _poisson(self.rng, self.rate * weight * seconds)
            bad = sum(self.rng.random() < errors for _ in range(calls))
            late = sum(self.rng.random() < slow for _ in range(calls))
            total = self.sums[cohort]
            total[0] += calls
            total[1] += bad
            total[2] += late
            total[3] += _poisson(self.rng, restarts * seconds) if weight else 0

    def totals(self, plan: RolloutPlan, cohort: str, slow_above: float | None) -> list[int]:
        if cohort == plan.canary:
            self._advance(plan)
        return list(self.sums["canary" if cohort == plan.canary else "baseline"])

    def latency_percentile(self, cohort: str, percentile: float) -> tuple[float, int]:
        return 0.1, self.sums["baseline"][0]
