"""Workflow data and the pure rules of a workflow: validation, readiness, progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from bastion._core._errors import ValidationError

__all__ = [
    "StepSpec",
    "StepState",
    "Workflow",
    "WorkflowStatus",
    "build_steps",
    "ready_steps",
    "status_of",
]

ACTIVE = ("pending", "running", "paused")


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


class StepState(msgspec.Struct, kw_only=True):
    """A step as the coordinator tracks (and stores) it."""

    name: str
    task_type: str
    payload: Any = None
    depends_on: list[str] = []
    capability: str | None = None
    timeout: float | None = None
    status: str = "pending"  # pending | dispatched | completed | failed
    agent: str | None = None
    attempts: int = 1
    reassigned: int = 0
    result: Any = None
    error: str | None = None

    def task_id(self, workflow: str) -> str:
        """The task id of the current attempt (stable across reassignment and restarts)."""
        return f"{workflow}/{self.name}/{self.attempts}"


class Workflow(msgspec.Struct, kw_only=True):
    """An active workflow (one stored row) or a finished one (in ``finished``)."""

    id: str
    status: str  # pending | running | paused | completed | failed | cancelled
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
    status: str
    progress: float
    completed_steps: int
    total_steps: int
    steps: dict[str, str]
    results: dict[str, Any]
    error: str | None
    retried: int
    reassigned: int


def build_steps(specs: list[StepSpec]) -> list[StepState]:
    """Validate ``specs`` (unique names, known dependencies, no cycle) into step states."""
    if not specs:
        raise ValidationError("a workflow needs at least one step", code="invalid_workflow")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValidationError(f"step names must be unique: {names}", code="invalid_workflow")
    steps = []
    for i, spec in enumerate(specs):
        deps = spec.depends_on if spec.depends_on is not None else names[max(0, i - 1):i]
        unknown = [d for d in deps if d not in names]
        if unknown:
            raise ValidationError(f"step {spec.name!r} depends on unknown steps {unknown}",
                                  code="invalid_workflow")
        steps.append(StepState(name=spec.name, task_type=spec.task_type, payload=spec.payload,
                               depends_on=list(deps), capability=spec.capability,
                               timeout=spec.timeout))
    _check_acyclic(steps)
    return steps


def _check_acyclic(steps: list[StepState]) -> None:
    done: set[str] = set()
    remaining = {s.name: set(s.depends_on) for s in steps}
    while remaining:
        free = [n for n, deps in remaining.items() if deps <= done]
        if not free:
            raise ValidationError(f"the steps {sorted(remaining)} depend on each other in a cycle",
                                  code="invalid_workflow")
        for n in free:
            done.add(n)
            del remaining[n]


def ready_steps(wf: Workflow) -> list[StepState]:
    """Pending steps whose dependencies are all completed."""
    completed = {s.name for s in wf.steps if s.status == "completed"}
    return [s for s in wf.steps if s.status == "pending" and set(s.depends_on) <= completed]


def status_of(wf: Workflow) -> WorkflowStatus:
    """A :class:`WorkflowStatus` of ``wf``."""
    done = sum(s.status == "completed" for s in wf.steps)
    return WorkflowStatus(
        id=wf.id, status=wf.status, progress=done / len(wf.steps), completed_steps=done,
        total_steps=len(wf.steps), steps={s.name: s.status for s in wf.steps},
        results={s.name: s.result for s in wf.steps if s.status == "completed"},
        error=wf.error, retried=sum(s.attempts - 1 for s in wf.steps),
        reassigned=sum(s.reassigned for s in wf.steps))
