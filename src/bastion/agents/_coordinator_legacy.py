"""A store written by a CoordinatorAgent from before the ``@workflow`` engine, read on.

That coordinator kept its active workflows as items of its own namespace
(``agent/<name>``, collection ``workflows``) and the final states of finished ones in
collection ``finished``. At its first start on such a store the coordinator migrates:

* each active workflow becomes a workflow of its engine, in one atomic write that also
  deletes the old item: its steps as the input, the results of its completed steps as
  ``done`` (they do not run again), and for a step that had been retried the attempts
  it used as ``base`` (its next task id continues the count; the steps left keep
  ``max_step_attempts`` in all); a paused one stays paused;
* finished workflows stay where they are and are read from there (``workflow_status``,
  an idempotent ``start_workflow``, ``forget``).

The counters are the same fields of the coordinator's record, restored as they were.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from bastion.agents._coordinated import DEFINITION_NAME
from bastion.agents._workflow import (
    StepPhase,
    StoredStep,
    Workflow,
    WorkflowPhase,
    WorkflowStatus,
)
from bastion.persistence import Codec, DeleteItem, NamespaceData, Op, Put, PutItem
from bastion.workflows._records import (
    ACTIVE_COLLECTION,
    FENCE,
    INPUT,
    META,
    Input,
    Meta,
    encode,
    namespace_of,
)
from bastion.workflows._records import (
    WorkflowStatus as EngineStatus,
)

if TYPE_CHECKING:
    from bastion.agents._coordinator_reads import CoordinatorReads

__all__ = ["ACTIVE_ITEMS", "FINISHED_ITEMS", "LegacyStore", "legacy_status"]

#: The old coordinator's collections of active and of finished workflows.
ACTIVE_ITEMS = "workflows"
FINISHED_ITEMS = "finished"


class LegacyStore:
    """What the coordinator's namespace holds from before the engine."""

    def __init__(self) -> None:
        self.active: list[Workflow] = []
        self.has_finished = False

    def found(self, data: NamespaceData, codec: Codec) -> None:
        """Note the old collections of the loaded namespace."""
        self.active = [
            codec.decode(raw, Workflow) for _, raw in data.collections.get(ACTIVE_ITEMS, [])
        ]
        self.has_finished = bool(data.collections.get(FINISHED_ITEMS))

    async def holds(self, coord: CoordinatorReads, workflow_id: str) -> bool:
        """Whether an old finished workflow has this id."""
        return await self.status(coord, workflow_id) is not None

    async def status(self, coord: CoordinatorReads, workflow_id: str) -> WorkflowStatus | None:
        """The status of an old finished workflow, or None."""
        if not self.has_finished:
            return None
        found: Workflow | None = await coord.read_item(FINISHED_ITEMS, workflow_id, Workflow)
        return None if found is None else legacy_status(found)

    async def forget(self, coord: CoordinatorReads, workflow_id: str) -> None:
        """Delete an old finished workflow's state (with the coordinator's next save)."""
        if self.has_finished:
            coord.unstage_item(FINISHED_ITEMS, workflow_id)

    async def migrate(self, coord: CoordinatorReads) -> None:
        """Move the old active workflows to the coordinator's engine (see the module)."""
        if not self.active:
            return
        paused = [w.id for w in self.active if w.status is WorkflowPhase.PAUSED]
        for workflow_id in paused:
            coord.paused[workflow_id] = time.time()
        if paused:
            await coord.persist(wait=True)  # first: a crash before the move keeps them paused
        ops: list[Op] = []
        for wf in sorted(self.active, key=lambda w: w.created_at):
            ops += _moved(coord, wf)
        await coord.store.write(ops)
        self.active = []


def _moved(coord: CoordinatorReads, wf: Workflow) -> list[Op]:
    wid = coord._prefix + wf.id
    namespace = namespace_of(wid)
    specs = [
        StoredStep(
            name=s.name,
            task_type=s.task_type,
            payload=s.payload,
            depends_on=s.depends_on,
            capability=s.capability,
            timeout=s.timeout,
        )
        for s in wf.steps
    ]
    done = {
        s.name: {
            "result": s.result,
            "agent": s.agent,
            "reassigned": s.reassigned,
            "attempt": s.attempts,
        }
        for s in wf.steps
        if s.status is StepPhase.COMPLETED
    }
    base = {
        s.name: s.attempts - 1
        for s in wf.steps
        if s.status is not StepPhase.COMPLETED and s.attempts > 1
    }
    kwargs: dict[str, Any] = {"done": done, "base": base}
    codec = coord.core.codec
    meta = Meta(
        name=DEFINITION_NAME,
        version="1",
        status=EngineStatus.RUNNING,
        created_at=wf.created_at,
        updated_at=time.time(),
    )
    stored = Input(
        args=_raw(codec.encode([specs], list[list[StoredStep]])), kwargs=_raw(codec.encode(kwargs))
    )
    return [
        Put(namespace, META, encode(meta), expected_version=0),
        Put(namespace, INPUT, encode(stored)),
        Put(namespace, FENCE, b"", expected_version=0),
        PutItem(coord.core.index_namespace, ACTIVE_COLLECTION, wid, DEFINITION_NAME.encode()),
        DeleteItem(coord.namespace, ACTIVE_ITEMS, wf.id),
    ]


def _raw(data: bytes) -> msgspec.Raw:
    return msgspec.Raw(data)


def legacy_status(wf: Workflow) -> WorkflowStatus:
    """The status of a workflow stored by the old coordinator."""
    done = sum(s.status is StepPhase.COMPLETED for s in wf.steps)
    return WorkflowStatus(
        id=wf.id,
        status=wf.status,
        progress=done / len(wf.steps),
        completed_steps=done,
        total_steps=len(wf.steps),
        steps={s.name: s.status for s in wf.steps},
        results={s.name: s.result for s in wf.steps if s.status is StepPhase.COMPLETED},
        error=wf.error,
        retried=sum(s.attempts - 1 for s in wf.steps),
        reassigned=sum(s.reassigned for s in wf.steps),
    )
