"""The rollout's sequential tests: always-valid mixture SPRTs on per-tick counts.

Three tests, each a nonnegative martingale under its null hypothesis, so by Ville's
inequality ``P(ever alarm | H0) <= alpha`` however often it is looked at:

* :class:`ComparativeTest` — canary vs the concurrent baseline. Condition on the events
  of a tick: under H0 (equal rates per call) an event is a canary event with probability
  ``q0`` = the canary's share of the tick's exposure; under a rate ratio ``theta`` with
  ``q1 = theta*q0 / (theta*q0 + 1 - q0)``. The log-likelihood ratio of each ``theta`` in
  a fixed grid is summed; the statistic is the log of their weighted mean (a discrete
  mixture with fixed prior weights, most of them on the sizes worth catching fast).
  A tick with no events changes nothing, so silence is never evidence.
* :class:`AbsoluteGuard` — the canary's own error rate against a declared SLO ``p0``
  (Bernoulli mixture over alternatives above ``p0``): catches a fault when the baseline
  is bad too, and is the only test left at 100 %.
* :class:`IntensityGuard` — a hard limit on canary restarts (more than ``intensity`` in
  ``period`` seconds), OTP's restart intensity: no statistics, an immediate alarm.

Feeding counts per tick gives the same statistic as feeding the same events one by one
(the increments add up); it only looks less often, which keeps the guarantee.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence

__all__ = [
    "ABSOLUTE_MULTIPLIERS",
    "RATE_RATIOS",
    "RATE_WEIGHTS",
    "AbsoluteGuard",
    "FIRST_SEGMENT_WEIGHT",
    "ComparativeTest",
    "IntensityGuard",
    "log_mean_exp",
    "segment_weights",
]

#: Rate ratios (canary / baseline) the comparative mixture weighs.
RATE_RATIOS: tuple[float, ...] = (1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
#: Their prior weights: most of the mass on the three kinds of regression a rollout must
#: catch within its exposure -- a subtle one (2x), a clear one (5x) and a crash (30x);
#: the neighbours (1.5, 3, 10) keep the sizes in between covered.
RATE_WEIGHTS: tuple[float, ...] = (0.10, 0.25, 0.10, 0.30, 0.05, 0.20)
#: Alternatives of the absolute guard, as multiples of the SLO error rate.
ABSOLUTE_MULTIPLIERS: tuple[float, ...] = (2.5, 5.0, 15.0, 30.0)


def log_mean_exp(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """``log(mean(exp(v)))`` computed without overflow; with ``weights`` (adding up to
    1), the weighted mean."""
    top = max(values)
    if weights is None:
        return top + math.log(sum(math.exp(v - top) for v in values) / len(values))
    return top + math.log(sum(w * math.exp(v - top) for v, w in zip(values, weights, strict=True)))


def _check_weights(name: str, weights: Sequence[float], size: int) -> tuple[float, ...]:
    values = tuple(float(w) for w in weights)
    if len(values) != size or any(not w > 0 for w in values) or abs(sum(values) - 1.0) > 1e-9:
        raise ValueError(f"{name} must be {size} positive numbers adding up to 1, got {weights!r}")
    return values


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
    return float(alpha)


#: Prior weight of the first phase's segment: a regression is usually in the new code
#: from its first call, so that is where most of the mass goes; the later segments only
#: have to catch what appears with more exposure (load, other subjects).
FIRST_SEGMENT_WEIGHT = 0.75


def segment_weights(count: int) -> tuple[float, ...]:
    """Prior weights of the segments (one per phase): ``FIRST_SEGMENT_WEIGHT`` on the
    first, the rest shared evenly."""
    if count < 1:
        raise ValueError(f"need at least one segment, got {count!r}")
    if count == 1:
        return (1.0,)
    rest = (1.0 - FIRST_SEGMENT_WEIGHT) / (count - 1)
    return (FIRST_SEGMENT_WEIGHT,) + (rest,) * (count - 1)


class _Mixture:
    """A mixture SPRT over alternatives and over the phase it started in.

    Each phase starts a fresh *segment* (a likelihood ratio that was 1 until then); the
    statistic mixes the segments with fixed prior weights summing to 1 (unstarted ones
    count as 1), and within a segment the alternatives with their own fixed prior
    weights (``priors``). Every segment and alternative is a martingale under H0, so the
    mixture is one and Ville's inequality holds across all phases; a fault that starts
    in a late phase is not slowed down by the evidence *for* H0 that earlier phases
    piled up.

    Every segment gets the same increments, so the state is the cumulative log-likelihood
    ratio per alternative (``cumulative``) and its value at each segment's start
    (``offsets``): an update costs one multiply-add per alternative.
    """

    __slots__ = (
        "_hit",
        "_hot",
        "_limits",
        "_miss",
        "alpha",
        "cumulative",
        "offsets",
        "priors",
        "threshold",
        "weights",
    )

    def __init__(
        self,
        alpha: float,
        steps: Sequence[tuple[float, float]],
        weights: Sequence[float],
        cumulative: Sequence[float] | None,
        offsets: Sequence[Sequence[float]] | None,
        priors: Sequence[float] | None = None,
    ) -> None:
        self.alpha = _check_alpha(alpha)
        self.weights = tuple(float(w) for w in weights)
        if abs(sum(self.weights) - 1.0) > 1e-9:
            raise ValueError(f"segment weights must add up to 1, got {weights!r}")
        size = len(steps)
        self.priors = _check_weights("priors", priors or [1.0 / size] * size, size)
        self._hit = tuple(hit for hit, _ in steps)
        self._miss = tuple(miss for _, miss in steps)
        self.cumulative = [float(v) for v in cumulative] if cumulative else [0.0] * size
        self.offsets = [[float(v) for v in seg] for seg in offsets or ()]
        if (
            len(self.cumulative) != size
            or len(self.offsets) > len(self.weights)
            or any(len(seg) != size for seg in self.offsets)
        ):
            raise ValueError("stored statistics do not match the test's shape")
        #: Alarm when the statistic reaches ``log(1 / alpha)``.
        self.threshold = math.log(1.0 / self.alpha)
        self._set_limits()

    def _set_limits(self) -> None:
        # L <= max(1, exp(largest segment llr)): an alarm needs some alternative's
        # cumulative llr to reach its lowest segment offset + threshold
        if self.offsets:
            floors = [min(column) for column in zip(*self.offsets, strict=True)]
        else:
            floors = [math.inf] * len(self.cumulative)
        self._limits = [floor + self.threshold for floor in floors]
        self._hot = any(c >= lim for c, lim in zip(self.cumulative, self._limits, strict=True))

    def start_segment(self) -> None:
        """Open the next segment (at a phase start); past the last one, nothing."""
        if len(self.offsets) < len(self.weights):
            self.offsets.append(list(self.cumulative))
            self._set_limits()

    def _add(self, hit: Sequence[float], miss: Sequence[float], hits: int, misses: int) -> None:
        # the list object stays the same: the rollout's state shares it
        cumulative = self.cumulative
        cumulative[:] = [
            c + hits * h + misses * m for c, h, m in zip(cumulative, hit, miss, strict=True)
        ]
        self._hot = any(map(operator.ge, cumulative, self._limits))

    @property
    def segments(self) -> list[list[float]]:
        """The log-likelihood ratio of each started segment, per alternative."""
        return [[c - o for c, o in zip(self.cumulative, seg, strict=True)] for seg in self.offsets]

    @property
    def statistic(self) -> float:
        """``log`` of the mixture likelihood ratio (0.0 at the start)."""
        terms = [
            math.log(w) + log_mean_exp(seg, self.priors)
            for w, seg in zip(self.weights, self.segments, strict=False)
        ]
        unstarted = sum(self.weights[len(self.offsets) :])
        if unstarted > 0:
            terms.append(math.log(unstarted))
        return log_mean_exp(terms) + math.log(len(terms))

    @property
    def alarm(self) -> bool:
        """Whether the evidence against H0 reached ``1 / alpha``."""
        return self._hot and self.statistic >= self.threshold

    @property
    def p_value(self) -> float:
        """The always-valid p-value, ``min(1, 1 / L)``, for this moment."""
        return math.exp(-max(0.0, self.statistic))


@functools.lru_cache(maxsize=64)
def _share_steps(
    q0: float, ratios: tuple[float, ...]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Log-likelihood increments per rate ratio at ``q0``: for a canary event
    ``log(q1/q0)``, for a baseline event ``log((1-q1)/(1-q0))``; both reduce to
    ``log(theta) - d`` and ``-d`` with ``d = log(1 + (theta-1)*q0)``. Memoised, since the
    tests of one tick share the same ``q0``."""
    miss = tuple(-math.log1p((theta - 1.0) * q0) for theta in ratios)
    hit = tuple(math.log(theta) + m for theta, m in zip(ratios, miss, strict=True))
    return hit, miss


class ComparativeTest(_Mixture):
    """Mixture SPRT on the canary's share of the events (see the module docstring)."""

    __slots__ = ("ratios",)

    def __init__(
        self,
        alpha: float,
        cumulative: Sequence[float] | None = None,
        offsets: Sequence[Sequence[float]] | None = None,
        *,
        weights: Sequence[float] = (1.0,),
        ratios: Sequence[float] = RATE_RATIOS,
        priors: Sequence[float] | None = None,
    ) -> None:
        self.ratios = tuple(float(r) for r in ratios) if ratios is not RATE_RATIOS else ratios
        if not self.ratios or any(r <= 1.0 for r in self.ratios):
            raise ValueError(f"rate ratios must all be > 1, got {ratios!r}")
        if priors is None and self.ratios == RATE_RATIOS:
            priors = RATE_WEIGHTS
        steps = [(0.0, 0.0)] * len(self.ratios)
        super().__init__(alpha, steps, weights, cumulative, offsets, priors)
        if not offsets:
            self.start_segment()

    def update(self, canary_events: int, baseline_events: int, canary_share: float) -> None:
        """Add one tick: events per cohort and the canary's share of the exposure."""
        if canary_events == 0 and baseline_events == 0:
            return
        if not 0.0 < canary_share < 1.0:
            return  # one cohort had no exposure: the tick carries no comparison
        hit, miss = _share_steps(canary_share, self.ratios)
        self._add(hit, miss, canary_events, baseline_events)


class AbsoluteGuard(_Mixture):
    """Bernoulli mixture SPRT of the canary error rate against the SLO rate ``slo``."""

    __slots__ = ("alternatives", "slo")

    def __init__(
        self,
        alpha: float,
        slo: float,
        cumulative: Sequence[float] | None = None,
        offsets: Sequence[Sequence[float]] | None = None,
        *,
        weights: Sequence[float] = (1.0,),
        multipliers: Sequence[float] = ABSOLUTE_MULTIPLIERS,
    ) -> None:
        if isinstance(slo, bool) or not isinstance(slo, int | float) or not 0 < slo < 0.5:
            raise ValueError(f"the SLO error rate must be in (0, 0.5), got {slo!r}")
        self.slo = float(slo)
        alternatives = sorted({min(0.99, self.slo * m) for m in multipliers})
        self.alternatives = tuple(p for p in alternatives if p > self.slo)
        steps = [
            (math.log(p / self.slo), math.log((1.0 - p) / (1.0 - self.slo)))
            for p in self.alternatives
        ]
        super().__init__(alpha, steps, weights, cumulative, offsets)
        if not offsets:
            self.start_segment()

    def update(self, calls: int, errors: int) -> None:
        """Add one tick of canary calls and the errors among them."""
        if calls <= 0:
            return
        errors = min(errors, calls)
        self._add(self._hit, self._miss, errors, calls - errors)


class IntensityGuard:
    """More than ``intensity`` canary restarts within ``period`` seconds is an alarm."""

    __slots__ = ("intensity", "period", "times")

    def __init__(self, intensity: int, period: float, times: Sequence[float] | None = None) -> None:
        if isinstance(intensity, bool) or not isinstance(intensity, int) or intensity < 0:
            raise ValueError(f"intensity must be an int >= 0, got {intensity!r}")
        if isinstance(period, bool) or not isinstance(period, int | float) or period <= 0:
            raise ValueError(f"period must be a number > 0, got {period!r}")
        self.intensity = intensity
        self.period = float(period)
        self.times = list(times or ())

    def update(self, now: float, restarts: int) -> None:
        """Record ``restarts`` canary restarts seen at ``now``; forget the old ones."""
        self.times.extend([now] * max(0, restarts))
        horizon = now - self.period
        self.times = [t for t in self.times if t > horizon][-(self.intensity + 1) :]

    @property
    def alarm(self) -> bool:
        """Whether the canary restarted more than ``intensity`` times in ``period``."""
        return len(self.times) > self.intensity
