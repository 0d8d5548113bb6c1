"""Load models: closed (N users, each waits for its answer) and open (a target rate).

A closed model's user starts its next iteration only when the previous one finished,
so a slow system lowers the load it receives and its stalls hide (coordinated
omission). An open model starts iterations on a schedule, whatever the system does,
and measures each from its *intended* start, so a stall shows in the latency of every
iteration that was due during it. See ``docs/loadtest.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ArrivalSchedule", "ClosedModel", "OpenModel", "Stage"]


def _number(what: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{what} must be a finite number {bound}, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class ClosedModel:
    """``users`` concurrent users, each looping: iteration, then ``think_time`` seconds.

    ``ramp_up`` spreads the users' starts evenly over that many seconds.
    """

    users: int
    think_time: float = 0.0
    ramp_up: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.users, bool) or not isinstance(self.users, int):
            raise TypeError(f"users must be an int, got {self.users!r}")
        if not 1 <= self.users <= 1_000_000:
            raise ValueError(f"users must be within 1..1000000, got {self.users}")
        _number("think_time", self.think_time)
        _number("ramp_up", self.ramp_up)


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp the arrival rate linearly to ``rate`` (per second) over ``duration`` seconds."""

    duration: float
    rate: float

    def __post_init__(self) -> None:
        _number("stage duration", self.duration, positive=True)
        _number("stage rate", self.rate)


@dataclass(frozen=True, slots=True)
class OpenModel:
    """Iterations start at ``rate`` per second (k6's constant / ramping arrival rate).

    ``ramp_up`` grows the rate linearly from 0 to ``rate``; ``stages`` (after the
    ramp-up) change it further, the last rate holding until the end. At most
    ``max_in_flight`` iterations run at once; an arrival that finds them all busy
    waits, and its latency still counts from its intended start.
    """

    rate: float
    ramp_up: float = 0.0
    stages: Sequence[Stage] = ()
    max_in_flight: int = 1000

    def __post_init__(self) -> None:
        _number("rate", self.rate, positive=True)
        _number("ramp_up", self.ramp_up)
        object.__setattr__(self, "stages", tuple(self.stages))
        for stage in self.stages:
            if not isinstance(stage, Stage):
                raise TypeError(f"stages must be Stage objects, got {stage!r}")
        if isinstance(self.max_in_flight, bool) or not isinstance(self.max_in_flight, int):
            raise TypeError(f"max_in_flight must be an int, got {self.max_in_flight!r}")
        if not 1 <= self.max_in_flight <= 1_000_000:
            raise ValueError(f"max_in_flight must be within 1..1000000, got {self.max_in_flight}")

    def schedule(self) -> ArrivalSchedule:
        """The arrival times this model asks for."""
        stages = [Stage(self.ramp_up, self.rate)] if self.ramp_up > 0 else []
        start = 0.0 if self.ramp_up > 0 else self.rate
        return ArrivalSchedule(start, [*stages, *self.stages])

    def split(self, parts: int) -> OpenModel:
        """This model's share for one of ``parts`` worker processes."""
        stages = [Stage(s.duration, s.rate / parts) for s in self.stages]
        per_worker = max(1, math.ceil(self.max_in_flight / parts))
        return OpenModel(self.rate / parts, self.ramp_up, stages, per_worker)


class ArrivalSchedule:
    """Intended start times of arrivals 0, 1, 2, ... for a piecewise-linear rate.

    Arrival ``k`` is due when the integral of the rate reaches ``k``; ``time_of`` is
    called with increasing ``k`` and costs O(1) each (no list of times is kept).
    """

    __slots__ = ("_index", "_segments")

    def __init__(self, start_rate: float, stages: Sequence[Stage]) -> None:
        segments: list[tuple[float, float, float, float]] = []  # t0, n0, r0, slope/2
        t = n = 0.0
        rate = start_rate
        for stage in stages:
            half_slope = (stage.rate - rate) / stage.duration / 2
            segments.append((t, n, rate, half_slope))
            n += (rate + stage.rate) / 2 * stage.duration
            t += stage.duration
            rate = stage.rate
        segments.append((t, n, rate, 0.0))  # the last rate holds
        self._segments = segments
        self._index = 0

    def time_of(self, k: int) -> float:
        """Seconds after the start at which arrival ``k`` is due (``inf``: never)."""
        segments = self._segments
        index = self._index
        while index + 1 < len(segments) and segments[index + 1][1] <= k:
            index += 1
        self._index = index
        t0, n0, rate, half_slope = segments[index]
        due = k - n0
        if due <= 0:
            return t0
        root = rate * rate + 4 * half_slope * due
        if root < 0 or (rate == 0 and half_slope <= 0):
            return math.inf
        return t0 + 2 * due / (rate + math.sqrt(root))
