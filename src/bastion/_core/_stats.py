"""Frozen statistics snapshots. Every stateful kernel object answers ``statistics()``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ActorStatistics",
    "DeadLetterStatistics",
    "RuntimeStatistics",
    "SupervisorStatistics",
    "TaskSupervisorStatistics",
]


@dataclass(frozen=True, slots=True)
class ActorStatistics:
    """One actor incarnation. ``parked``: waiting for a message (idle), not handling one."""

    id: int
    name: str | None
    actor_class: str
    alive: bool
    parked: bool
    mailbox_depth: int
    mailbox_capacity: int
    processed: int
    late_replies: int
    timers: int
    monitors: int
    monitored_by: int
    links: int
    blocked_senders: int


@dataclass(frozen=True, slots=True)
class SupervisorStatistics:
    """A supervisor's children and restart history."""

    strategy: str
    children: int
    alive_children: int
    restarts: int
    restarts_in_window: int
    max_restarts: int
    max_seconds: float
    pending_restarts: int


@dataclass(frozen=True, slots=True)
class TaskSupervisorStatistics:
    """Supervised tasks and blocking work."""

    running: int
    started: int
    succeeded: int
    failed: int
    cancelled: int
    timed_out: int
    blocking_running: int
    blocking_capacity: int
    blocking_abandoned: int


@dataclass(frozen=True, slots=True)
class DeadLetterStatistics:
    """The dead-letter queue."""

    size: int
    capacity: int
    total: int
    evicted: int
    replayed: int
    by_reason: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RuntimeStatistics:
    """The whole runtime."""

    actors: int
    busy_actors: int
    spawned: int
    stopped: int
    crashed: int
    restarts: int
    escalations: int
    call_timeouts: int
    late_replies: int
    mailbox_full: int
    registered_names: int
    timers: int
    monitors: int
    links: int
    dead_letters: DeadLetterStatistics
    tasks: TaskSupervisorStatistics
