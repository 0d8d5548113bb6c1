"""The console's read model: frozen rows the API encodes as JSON (msgspec encodes them).

Every row is built from ``statistics()`` snapshots and ``rt.metrics`` only; nothing here
holds an actor object or changes anything.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field

__all__ = [
    "ActorRow",
    "ChildRow",
    "ClassRow",
    "SeriesPoint",
    "SupervisorRow",
    "safe_repr",
]

_REPR = reprlib.Repr()
_REPR.maxstring = 160
_REPR.maxother = 160
_REPR.maxlevel = 3


def safe_repr(value: object) -> str:
    """A bounded ``repr`` (reprlib: long values are cut, a failing ``__repr__`` is caught)."""
    text = _REPR.repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


@dataclass(frozen=True, slots=True)
class ActorRow:
    """One live actor: identity, state, mailbox and activity since the previous sample."""

    id: int
    name: str | None
    actor_class: str
    state: str  # "busy" (handling or holding messages), "idle" (parked), "stopped"
    mailbox_depth: int
    mailbox_capacity: int
    processed: int
    rate: float  # messages handled per second since the previous sample
    supervisor: str | None  # the supervisor's id in this API, or None for a root actor
    child_id: str | None


@dataclass(frozen=True, slots=True)
class ChildRow:
    """One child spec of a supervisor (OTP's ``which_children`` plus restart counts)."""

    id: str
    actor_class: str
    restart: str
    alive: bool
    actor_id: int | None
    restarts: int
    supervisor: str | None  # set when the child is itself a supervisor: its id in this API


@dataclass(frozen=True, slots=True)
class SupervisorRow:
    """A supervisor: strategy, intensity used, restart counts and (optionally) children."""

    id: str
    actor_id: int
    name: str | None
    strategy: str
    children: int
    alive_children: int
    restarts: int
    restarts_in_window: int
    max_restarts: int
    max_seconds: float
    intensity_used: float  # restarts in the window / max_restarts (1.0 = at the limit)
    pending_restarts: int
    parent: str | None
    child_id: str | None
    child_rows: tuple[ChildRow, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class ClassRow:
    """Actors aggregated by class (or by supervisor): counts, mailboxes, activity, latency."""

    key: str
    actors: int
    busy: int
    mailbox_depth: int
    mailbox_max: int
    rate: float
    calls_per_second: float | None
    latency_p50: float | None
    latency_p99: float | None


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One point of the chart series (one per sample)."""

    at: float  # wall clock (seconds since the epoch)
    calls_per_second: float
    error_rate: float
    latency_p50: float | None
    latency_p99: float | None
    restarts: int  # cumulative
    dead_letters: int  # cumulative
    mailbox_depth: int
    task_queue: int
    actors: int
