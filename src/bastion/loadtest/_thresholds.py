"""Thresholds: ``p99 < 50ms``, ``error_rate < 1%``, ``rate > 100``; a breach fails the run.

Grammar (spaces optional)::

    [scenario:] metric  op  number [unit]

``metric`` is one of :data:`METRICS`; ``op`` one of ``< <= > >=``; latency metrics take
``us``, ``ms`` (the default) or ``s``; ``error_rate`` takes a fraction or ``%``; ``rate``
is iterations per second; ``errors`` and ``iterations`` are counts. An unknown metric
or a malformed line is a ``ValueError`` naming the problem (a threshold that cannot be
evaluated never passes silently).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["METRICS", "Threshold", "ThresholdResult", "parse_threshold"]

LATENCY_METRICS = ("p50", "p90", "p95", "p99", "p99.9", "max", "mean", "min")
METRICS = (*LATENCY_METRICS, "error_rate", "errors", "rate", "iterations")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_LATENCY_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}
_LINE = re.compile(
    r"^\s*(?:(?P<scenario>[^:<>=]+?)\s*:\s*)?(?P<metric>[a-z_]+[0-9.]*)\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<number>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*"
    r"(?P<unit>[a-zµ%]*)\s*$"
)


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed threshold; ``limit`` is in base units (seconds, a 0-1 fraction)."""

    text: str
    metric: str
    op: str
    limit: float
    scenario: str | None = None

    def holds(self, value: float) -> bool:
        """Whether ``value`` (base units) satisfies this threshold."""
        return _OPS[self.op](value, self.limit)


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """A threshold, the value it was judged on (base units) and the verdict."""

    threshold: Threshold
    value: float
    passed: bool


def parse_threshold(text: str) -> Threshold:
    """Parse ``"p99 < 50ms"``; ``ValueError`` with what is wrong and what is expected."""
    if not isinstance(text, str):
        raise TypeError(f"a threshold is a string, got {text!r}")
    match = _LINE.match(text)
    if match is None:
        raise ValueError(
            f"bad threshold {text!r}: expected '[scenario:] metric op number[unit]', "
            "e.g. 'p99 < 50ms' or 'error_rate < 1%'"
        )
    metric, op, unit = match["metric"], match["op"], match["unit"]
    if metric not in METRICS:
        raise ValueError(f"bad threshold {text!r}: unknown metric {metric!r}; known: {METRICS}")
    limit = float(match["number"]) * _scale(text, metric, unit)
    scenario = match["scenario"].strip() if match["scenario"] else None
    return Threshold(text.strip(), metric, op, limit, scenario)


def _scale(text: str, metric: str, unit: str) -> float:
    if metric in LATENCY_METRICS:
        if unit == "":
            return 1e-3  # milliseconds, as printed in every report
        if unit in _LATENCY_UNITS:
            return _LATENCY_UNITS[unit]
        raise ValueError(f"bad threshold {text!r}: latency unit must be us, ms or s, got {unit!r}")
    if metric == "error_rate":
        if unit == "%":
            return 0.01
        if unit == "":
            return 1.0
        raise ValueError(f"bad threshold {text!r}: error_rate takes a fraction or %, got {unit!r}")
    if unit not in ("", "/s") and unit:
        raise ValueError(f"bad threshold {text!r}: {metric} takes no unit, got {unit!r}")
    return 1.0
