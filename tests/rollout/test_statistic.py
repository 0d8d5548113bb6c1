"""The comparative mixture SPRT: fair bets under H0, the mixture it reports, its priors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.rollout._statistic import (
    RATE_RATIOS,
    RATE_WEIGHTS,
    ComparativeTest,
    _share_steps,
    segment_weights,
)

PHASES = 5
OLD_SEGMENTS = (0.5, 0.125, 0.125, 0.125, 0.125)  # half the prior on phase 1
UNIFORM = (1 / 6,) * 6


@given(
    q0=st.floats(min_value=1e-6, max_value=1 - 1e-6),
    theta=st.floats(min_value=1.01, max_value=1000.0),
)
def test_one_event_is_a_fair_bet_under_h0(q0: float, theta: float) -> None:
    # the event is a canary one with probability q0: E[likelihood ratio] must be 1
    (hit,), (miss,) = _share_steps(q0, (theta,))
    assert q0 * math.exp(hit) + (1 - q0) * math.exp(miss) == pytest.approx(1.0, rel=1e-9)


def test_the_statistic_is_the_weighted_mixture_of_segments_and_ratios() -> None:
    test = ComparativeTest(0.005, weights=segment_weights(PHASES))
    for _ in range(40):
        test.update(1, 9, 0.01)
    test.start_segment()
    for _ in range(10):
        test.update(2, 3, 0.05)
    weights = segment_weights(PHASES)
    started = [
        w * sum(p * math.exp(llr) for p, llr in zip(RATE_WEIGHTS, seg, strict=True))
        for w, seg in zip(weights, test.segments, strict=False)
    ]
    expected = math.log(sum(started) + sum(weights[2:]))
    assert test.statistic == pytest.approx(expected, rel=1e-12)


def _calls_to_alarm(test: ComparativeTest) -> int:
    # a 5x regression at a 1 % share: per 100 calls, 5 canary errors and 99 baseline ones
    # (baseline 1 %), fed as ticks of one canary call
    for calls in range(1, 10_000):
        test.update(1 if calls % 20 == 0 else 0, 1, 0.01)
        if test.alarm:
            return calls
    raise AssertionError("no alarm")


def test_a_regression_from_the_first_phase_needs_fewer_canary_calls_than_with_even_priors() -> None:
    default = _calls_to_alarm(ComparativeTest(0.005, weights=segment_weights(PHASES)))
    old = _calls_to_alarm(ComparativeTest(0.005, weights=OLD_SEGMENTS, priors=UNIFORM))
    assert default < old


def test_the_prior_weights_cover_every_ratio_and_add_up_to_one() -> None:
    assert len(RATE_WEIGHTS) == len(RATE_RATIOS)
    assert sum(RATE_WEIGHTS) == pytest.approx(1.0)
    assert sum(segment_weights(PHASES)) == pytest.approx(1.0)
    assert segment_weights(PHASES)[0] > sum(segment_weights(PHASES)[1:])


@pytest.mark.parametrize("priors", [(0.5, 0.5), (0.5, 0.6, -0.1), (0.2, 0.2, 0.2)])
def test_bad_priors_are_refused(priors: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="priors"):
        ComparativeTest(0.01, ratios=(2.0, 5.0, 10.0), priors=priors)
