"""A coordinator workflow's :class:`WorkflowStatus`, read from its engine records.

Where each field comes from:

* ``status``: the engine's meta record (completed, failed, cancelled); an active one is
  ``paused`` if the coordinator's stored ``paused`` set holds it, ``running`` if its run
  has a task, else ``pending`` (waiting for a slot under ``max_concurrent_workflows``);
* a step is ``completed``/``failed`` by its step record, ``dispatched`` while its task
  is out on an agent (in memory: :class:`~bastion.agents._coordinated.Tracked` slots;
  after a restart it reads ``pending`` until the step is offered again), else
  ``pending``; ``results`` from the completed records;
* ``retried``: failed attempts that were retried, from the records' attempt counts;
  ``reassigned``: from the completed records (each carries its step's count), plus the
  steps still in flight (in memory);
* ``error``: ``"step '<name>': <the task's error>"`` from the first failed step record,
  ``"cancelled by request"``, or the engine's error of the workflow (a timeout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from bastion.agents._coordinated import Tracked, steps_of
from bastion.agents._workflow import StepPhase, StoredStep, WorkflowPhase, WorkflowStatus
from bastion.persistence import NamespaceData
from bastion.workflows._records import (
    INPUT,
    META,
    STEPS,
    Meta,
    StepKind,
    StepRecord,
    StepStatus,
    decode_input,
    decode_meta,
    decode_step,
)

__all__ = ["Stored", "build_status", "read_stored"]

_FINAL = {
    "completed": WorkflowPhase.COMPLETED,
    "failed": WorkflowPhase.FAILED,
    "cancelled": WorkflowPhase.CANCELLED,
}


class Stored(msgspec.Struct, kw_only=True):
    """What the store holds of one coordinator workflow."""

    meta: Meta
    steps: list[StoredStep]
    done: dict[str, Any]
    records: list[StepRecord]


def read_stored(wid: str, data: NamespaceData, decode: Callable[[bytes], Any]) -> Stored | None:
    """The stored workflow of namespace ``data`` (None if it has no meta record)."""
    meta_record = data.records.get(META)
    input_record = data.records.get(INPUT)
    if meta_record is None or input_record is None:
        return None
    meta = decode_meta(meta_record.data, wid)
    stored = decode_input(input_record.data, wid)
    args = decode(bytes(stored.args))
    kwargs = decode(bytes(stored.kwargs)) or {}
    records = [decode_step(raw, wid, key) for key, raw in data.collections.get(STEPS, [])]
    return Stored(
        meta=meta,
        steps=steps_of(args[0]),
        done=kwargs.get("done") or {},
        records=records,
    )


def final_phase(meta: Meta) -> WorkflowPhase | None:
    """The coordinator phase of a finished workflow's meta record (None: still active)."""
    return _FINAL.get(meta.status.value)


def build_status(
    workflow: str,
    phase: WorkflowPhase,
    steps: list[StoredStep],
    records: Iterable[StepRecord],
    decode: Callable[[bytes], Any],
    *,
    done: dict[str, Any] | None = None,
    tracked: Tracked | None = None,
    meta_error: str | None = None,
) -> WorkflowStatus:
    """The status of ``workflow`` from its step records (and what memory adds)."""
    phases = {s.name: StepPhase.PENDING for s in steps}
    results: dict[str, Any] = {}
    retried = reassigned = 0
    failed: str | None = None
    for name, value in (done or {}).items():
        phases[name], results[name] = StepPhase.COMPLETED, value.get("result")
        reassigned += int(value.get("reassigned", 0))
        retried += int(value.get("attempt", 1)) - 1
    for rec in records:
        if rec.kind is not StepKind.STEP or rec.name not in phases:
            continue
        if rec.status is StepStatus.COMPLETED:
            value = decode(bytes(rec.result))
            phases[rec.name], results[rec.name] = StepPhase.COMPLETED, value.get("result")
            reassigned += int(value.get("reassigned", 0))
            retried += int(value.get("attempt", rec.attempts)) - 1
        elif rec.status is StepStatus.FAILED:
            phases[rec.name] = StepPhase.FAILED
            retried += rec.attempts - 1
            if failed is None:
                failed = f"step {rec.name!r}: {rec.error}"
        elif rec.status is StepStatus.RETRYING:
            retried += rec.attempts
    if tracked is not None:
        for name in tracked.slots:
            if phases.get(name) is StepPhase.PENDING:
                phases[name] = StepPhase.DISPATCHED
        for name, count in tracked.reassigned.items():
            if phases.get(name) is not StepPhase.COMPLETED:
                reassigned += count
    done_count = sum(p is StepPhase.COMPLETED for p in phases.values())
    error = None
    if phase is WorkflowPhase.FAILED:
        error = failed or meta_error
    elif phase is WorkflowPhase.CANCELLED:
        error = "cancelled by request"
    return WorkflowStatus(
        id=workflow,
        status=phase,
        progress=done_count / len(phases) if phases else 1.0,
        completed_steps=done_count,
        total_steps=len(phases),
        steps=phases,
        results=results,
        error=error,
        retried=retried,
        reassigned=reassigned,
    )
