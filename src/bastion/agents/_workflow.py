"""CoordinatorAgent workflow data: step specs and their validation, the status shapes.

:class:`Workflow` (with :class:`StepState` steps) is the stored form of the coordinator
before it ran on the ``@workflow`` engine; it is read only to migrate such a store
(``_coordinator_legacy``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import msgspec

from bastion._core._errors import ValidationError

__all__ = [
    "ACTIVE",
    "CoordinatorStatistics",
    "StepPhase",
    "StepSpec",
    "StepState",
    "StoredStep",
    "Workflow",
    "WorkflowPhase",
    "WorkflowStatus",
    "build_steps",
]


class WorkflowPhase(enum.StrEnum):
    """Where a workflow is in its life (stored with it, as the value)."""

    PENDING = "pending"  #: waiting for a slot under ``max_concurrent_workflows``
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepPhase(enum.StrEnum):
    """Where a step is (stored with its workflow, as the value)."""

    PENDING = "pending"  #: not sent yet (or sent back after its agent was lost)
    DISPATCHED = "dispatched"  #: sent to a TaskAgent, outcome awaited
    COMPLETED = "completed"
    FAILED = "failed"


#: The phases of a workflow that still holds a slot in the coordinator.
ACTIVE = (WorkflowPhase.PENDING, WorkflowPhase.RUNNING, WorkflowPhase.PAUSED)


class StepSpec(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One step: a task of ``task_type`` sent to a TaskAgent with that capability.

    ``depends_on=None`` means "after the previous step" (ordered steps); a list makes a
    DAG (``[]``: no dependency). Results of the dependencies arrive as task ``inputs``.
    """

    name: str
    task_type: str
    payload: Any = None
    depends_on: list[str] | None = None
    capability: str | None = None
    timeout: float | None = None


class StoredStep(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A validated step, as a coordinator workflow's input stores it (its dependencies
    explicit)."""

    name: str
    task_type: str
    payload: Any = None
    depends_on: list[str] = []
    capability: str | None = None
    timeout: float | None = None


class StepState(StoredStep, kw_only=True, omit_defaults=False):
    """A step as the coordinator stored it before it ran on the ``@workflow`` engine:
    the validated step and its progress (read to migrate such a store)."""

    status: StepPhase = StepPhase.PENDING
    agent: str | None = None
    attempts: int = 1
    reassigned: int = 0
    result: Any = None
    error: str | None = None

    def task_id(self, workflow: str) -> str:
        """The task id of the current attempt (stable across reassignment and restarts)."""
        return f"{workflow}/{self.name}/{self.attempts}"


class Workflow(msgspec.Struct, kw_only=True):
    """A workflow as the coordinator stored it before it ran on the ``@workflow`` engine
    (read to migrate such a store)."""

    id: str
    status: WorkflowPhase
    steps: list[StepState]
    created_at: float
    finished_at: float | None = None
    error: str | None = None

    def step(self, name: str) -> StepState:
        """The step called ``name``."""
        return next(s for s in self.steps if s.name == name)


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """Where a workflow stands."""

    id: str
    status: WorkflowPhase
    progress: float
    completed_steps: int
    total_steps: int
    steps: dict[str, StepPhase]
    results: dict[str, Any]
    error: str | None
    retried: int
    reassigned: int


@dataclass(frozen=True, slots=True)
class CoordinatorStatistics:
    """Workflow counters of a coordinator."""

    name: str | None
    running: int
    pending: int
    paused: int
    completed: int
    failed: int
    cancelled: int
    retried: int
    reassigned: int
    dispatched: int
    stalled: int


def build_steps(specs: list[StepSpec]) -> list[StoredStep]:
    """Validate ``specs`` (unique names, known dependencies, no cycle); dependencies
    made explicit."""
    if not specs:
        raise ValidationError("a workflow needs at least one step", code="invalid_workflow")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValidationError(f"step names must be unique: {names}", code="invalid_workflow")
    steps = []
    for i, spec in enumerate(specs):
        deps = spec.depends_on if spec.depends_on is not None else names[max(0, i - 1) : i]
        unknown = [d for d in deps if d not in names]
        if unknown:
            raise ValidationError(
                f"step {spec.name!r} depends on unknown steps {unknown}", code="invalid_workflow"
            )
        steps.append(
            StoredStep(
                name=spec.name,
                task_type=spec.task_type,
                payload=spec.payload,
                depends_on=list(deps),
                capability=spec.capability,
                timeout=spec.timeout,
            )
        )
    _check_acyclic(steps)
    return steps


def _check_acyclic(steps: list[StoredStep]) -> None:
    done: set[str] = set()
    remaining = {s.name: set(s.depends_on) for s in steps}
    while remaining:
        free = [n for n, deps in remaining.items() if deps <= done]
        if not free:
            raise ValidationError(
                f"the steps {sorted(remaining)} depend on each other in a cycle",
                code="invalid_workflow",
            )
        for n in free:
            done.add(n)
            del remaining[n]
