"""Thresholds: the syntax, clear errors for bad input, and a breach failing the run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bastion import loadtest as lt


@pytest.mark.parametrize(
    ("text", "metric", "op", "limit", "scenario"),
    [
        ("p99 < 50ms", "p99", "<", 0.05, None),
        ("p99<50", "p99", "<", 0.05, None),  # milliseconds by default, as reports print
        ("p99.9 <= 1.5s", "p99.9", "<=", 1.5, None),
        ("p50 < 800us", "p50", "<", 0.0008, None),
        ("error_rate < 1%", "error_rate", "<", 0.01, None),
        ("error_rate < 0.05", "error_rate", "<", 0.05, None),
        ("rate >= 100", "rate", ">=", 100.0, None),
        ("checkout: p90 < 20ms", "p90", "<", 0.02, "checkout"),
        ("iterations > 10", "iterations", ">", 10.0, None),
    ],
)
def test_threshold_syntax(text: str, metric: str, op: str, limit: float, scenario: str) -> None:
    threshold = lt.parse_threshold(text)
    assert (threshold.metric, threshold.op, threshold.scenario) == (metric, op, scenario)
    assert threshold.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("p99 50ms", "expected '[scenario:] metric op number[unit]'"),
        ("p98 < 5ms", "unknown metric 'p98'"),
        ("latency < 5ms", "unknown metric 'latency'"),
        ("p99 < 5min", "latency unit must be us, ms or s"),
        ("error_rate < 5ms", "error_rate takes a fraction or %"),
        ("rate > 10%", "rate takes no unit"),
        ("", "expected"),
    ],
)
def test_a_bad_threshold_is_one_clear_value_error(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="bad threshold") as caught:
        lt.parse_threshold(text)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


async def slow_then_failing(user: lt.User) -> object:
    user.state["n"] = n = user.state.get("n", 0) + 1
    await asyncio.sleep(0.1)  # noqa: BAS601 -- simulated service time, virtual
    return ("error", "every tenth") if n % 10 == 0 else None


async def test_thresholds_judge_the_run() -> None:
    result = await lt.run(
        slow_then_failing,
        load=lt.ClosedModel(users=2),
        iterations=100,
        thresholds=["p99 < 50ms", "error_rate < 20%", "slow_then_failing: p50 < 200ms"],
    )
    verdicts = {t.threshold.text: t.passed for t in result.thresholds}
    assert verdicts == {
        "p99 < 50ms": False,
        "error_rate < 20%": True,
        "slow_then_failing: p50 < 200ms": True,
    }
    assert not result.passed
    assert result.as_dict()["passed"] is False
    assert result.thresholds[1].value == pytest.approx(0.1)


async def test_a_threshold_naming_an_unknown_scenario_fails_before_the_load() -> None:
    with pytest.raises(ValueError, match="no scenario 'checkout'"):
        await lt.run(
            slow_then_failing,
            load=lt.ClosedModel(users=1),
            iterations=1,
            thresholds=["checkout: p99 < 5ms"],
        )


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"duration": 0}, "duration must be a finite number of seconds > 0"),
        ({"duration": 1, "iterations": 5}, "exactly one of duration"),
        ({}, "exactly one of duration"),
        ({"iterations": 0}, "iterations must be >= 1"),
        ({"duration": 1, "warmup": -1}, "warmup must be"),
        ({"duration": 1, "timeout": float("inf")}, "timeout must be"),
    ],
)
async def test_bad_run_arguments_fail_before_anything_starts(
    kwargs: dict[str, Any], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        await lt.run(slow_then_failing, load=lt.ClosedModel(users=1), **kwargs)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: lt.ClosedModel(users=0), "users must be within"),
        (lambda: lt.OpenModel(rate=0), "rate must be a finite number > 0"),
        (lambda: lt.OpenModel(rate=-5), "rate must be a finite number > 0"),
        (lambda: lt.OpenModel(rate=float("nan")), "rate must be"),
        (lambda: lt.Stage(0, 10), "stage duration"),
        (lambda: lt.Scenario("x", slow_then_failing, weight=0), "weight must be > 0"),
        (lambda: lt.LoadTest([]), "at least one scenario"),
    ],
)
def test_bad_models_and_scenarios_are_value_errors(make: Callable[[], object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        make()
