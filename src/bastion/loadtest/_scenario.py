"""Scenarios and load tests: what runs, with which weight, against what.

A scenario is an ``async def fn(user)`` called once per iteration; ``user`` is a
:class:`User` (its runtime, its number, a dict for its own state, and whatever the load
test's ``setup`` returned). :func:`call_actor` and :func:`cast_actor` build scenarios
that message an actor by registered name.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion._core._runtime import Runtime
from bastion.loadtest._errors import ReturnedError

if TYPE_CHECKING:
    from bastion.loadtest._chaos import Chaos

__all__ = [
    "LoadTest",
    "Scenario",
    "ScenarioFn",
    "User",
    "call_actor",
    "cast_actor",
    "returned_error",
]


def _never(target: str) -> bool:
    return False


@dataclass(slots=True)
class User:
    """One virtual user (closed model) or in-flight slot (open model).

    ``context`` is what the load test's ``setup`` returned (``None`` without one);
    ``state`` is this user's own dict, kept across its iterations.
    """

    runtime: Runtime
    number: int
    context: Any = None
    state: dict[str, Any] = field(default_factory=dict)
    started: float = field(default=math.inf, init=False, repr=False)  # inf: no iteration
    expired: bool = field(default=False, init=False, repr=False)  # the watchdog cancelled it
    drop_cast: Callable[[str], bool] = field(default=_never, init=False, repr=False)

    @property
    def busy(self) -> bool:
        """Whether an iteration of this user is running now."""
        return self.started != math.inf


ScenarioFn = Callable[[User], Awaitable[object]]


def returned_error(value: object) -> BaseException | None:
    """The default predicate for errors a scenario *returns* instead of raising.

    A returned exception instance is that error; a tuple ``("error", reason)`` is a
    :class:`~bastion.loadtest.ReturnedError` with ``reason`` as its message (or the
    reason itself when it is an exception). Anything else is a success.
    """
    if isinstance(value, BaseException):
        return value
    if type(value) is tuple and len(value) == 2 and value[0] == "error":
        reason = value[1]
        return reason if isinstance(reason, BaseException) else ReturnedError(str(reason))
    return None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named async callable and its weight (its share of iterations)."""

    name: str
    fn: ScenarioFn
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a scenario needs a non-empty name, got {self.name!r}")
        if not callable(self.fn):
            raise TypeError(f"scenario {self.name!r}: fn must be an async callable")
        weight = self.weight
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise TypeError(f"scenario {self.name!r}: weight must be a number, got {weight!r}")
        if not (weight > 0 and math.isfinite(weight)):
            raise ValueError(f"scenario {self.name!r}: weight must be > 0, got {weight!r}")


def call_actor(
    name: str, message: object, *, weight: float = 1.0, timeout: float = 5.0, label: str = ""
) -> Scenario:
    """A scenario that calls the actor registered as ``name`` with ``message``."""

    async def call(user: User) -> object:
        return await user.runtime.ref(name).call(message, timeout=timeout)

    return Scenario(label or f"call {name}", call, weight)


def cast_actor(
    name: str, message: object, *, weight: float = 1.0, timeout: float = 5.0, label: str = ""
) -> Scenario:
    """A scenario that casts ``message`` to the actor registered as ``name``."""

    async def cast(user: User) -> None:
        if not user.drop_cast(name):  # chaos mode drops a fraction, as a lossy link would
            await user.runtime.ref(name).cast(message, timeout=timeout)

    return Scenario(label or f"cast {name}", cast, weight)


Setup = Callable[[Runtime], Awaitable[Any]]
Teardown = Callable[[Runtime, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LoadTest:
    """Scenarios plus optional ``setup(rt) -> context`` and ``teardown(rt, context)``.

    ``setup`` runs once before the load (start the system under test there);
    ``teardown`` once after, whatever the ending. ``failure`` decides which returned
    values are errors (default :func:`returned_error`). ``chaos`` is what chaos mode
    breaks in this system (``bastion loadtest --chaos`` turns it on).
    """

    scenarios: Sequence[Scenario]
    setup: Setup | None = None
    teardown: Teardown | None = None
    failure: Callable[[object], BaseException | None] = returned_error
    chaos: Chaos | None = None

    def __post_init__(self) -> None:
        scenarios = tuple(self.scenarios)
        if not scenarios:
            raise ValueError("a load test needs at least one scenario")
        for scenario in scenarios:
            if not isinstance(scenario, Scenario):
                raise TypeError(f"scenarios must be Scenario objects, got {scenario!r}")
        names = [s.name for s in scenarios]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"scenario names must be unique, repeated: {duplicates}")
        object.__setattr__(self, "scenarios", scenarios)

    @classmethod
    def of(cls, target: LoadTest | Scenario | Sequence[Scenario] | ScenarioFn) -> LoadTest:
        """A load test from a load test, a scenario, scenarios or one async callable."""
        if isinstance(target, LoadTest):
            return target
        if isinstance(target, Scenario):
            return cls([target])
        if isinstance(target, list | tuple):
            return cls(target)
        if callable(target):
            return cls([Scenario(getattr(target, "__name__", "scenario"), target)])
        raise TypeError(f"not a load test, scenario or async callable: {target!r}")
