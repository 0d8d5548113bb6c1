"""What a CoordinatorAgent answers about its workflows: status, the active list, forget.

The statuses are built from the engine's records (``_coordinator_status``): those of a
run in memory from its history, the others read from the store; a workflow stored by a
coordinator from before the engine is read from its old record (``_coordinator_legacy``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bastion.agents._actions import action
from bastion.agents._coordinated import Tracked, steps_of
from bastion.agents._coordinator_status import build_status, final_phase, read_stored
from bastion.agents._errors import UnknownWorkflow
from bastion.agents._persistent import PersistentAgent
from bastion.agents._state import ItemMap
from bastion.agents._workflow import WorkflowPhase, WorkflowStatus
from bastion.persistence import Delete, DeleteItem, Op
from bastion.workflows._inspect import WorkflowStore
from bastion.workflows._records import namespace_of
from bastion.workflows._run import Run

if TYPE_CHECKING:
    from bastion.agents._coordinated import CoordinatorCore
    from bastion.agents._coordinator_legacy import LegacyStore

__all__ = ["CoordinatorReads"]


class CoordinatorReads(PersistentAgent):
    """The read actions of :class:`~bastion.agents.CoordinatorAgent` (and ``forget``)."""

    _bastion_framework = True

    # Set by CoordinatorAgent.
    paused: ItemMap[float]
    core: CoordinatorCore
    workflows: WorkflowStore
    _prefix: str
    _tracked: dict[str, Tracked]
    _legacy: LegacyStore

    @action
    async def workflow_status(self, workflow_id: str) -> WorkflowStatus:
        """Status of an active or finished workflow; UnknownWorkflow otherwise."""
        wid = self._prefix + workflow_id
        run = self.core.active.get(wid)
        if run is not None:
            return self.status_of_run(workflow_id, run)
        data = await self.store.load(namespace_of(wid))
        stored = read_stored(wid, data, self.core.codec.decode)
        if stored is None:
            legacy = await self._legacy.status(self, workflow_id)
            if legacy is None:
                raise UnknownWorkflow(f"no workflow {workflow_id!r}")
            return legacy
        phase = final_phase(stored.meta) or self._active_phase(workflow_id)
        return build_status(
            workflow_id,
            phase,
            stored.steps,
            stored.records,
            self.core.codec.decode,
            done=stored.done,
            tracked=self._tracked.get(workflow_id),
            meta_error=stored.meta.error,
        )

    @action
    async def list_workflows(self) -> list[WorkflowStatus]:
        """Status of every active workflow."""
        ids = [self.workflow_of(wid) for wid in list(self.core.active)]
        ids += [w for w in self.paused if self._prefix + w not in self.core.active]
        found = await asyncio.gather(*(self._status_or_none(w) for w in ids))
        return [s for s in found if s is not None]

    @action
    async def forget(self, workflow_id: str) -> None:
        """Delete the stored records of a finished workflow (an active one is left alone)."""
        wid = self._prefix + workflow_id
        await self._legacy.forget(self, workflow_id)
        if wid in self.core.active:
            return
        namespace = namespace_of(wid)
        data = await self.store.load(namespace)
        stored = read_stored(wid, data, self.core.codec.decode)
        if stored is None or final_phase(stored.meta) is None:
            return
        ops: list[Op] = [Delete(namespace, key) for key in data.records]
        for collection, items in data.collections.items():
            ops += [DeleteItem(namespace, collection, key) for key, _ in items]
        await self.store.write(ops)

    def status_of_run(self, workflow_id: str, run: Run) -> WorkflowStatus:
        """The status of a workflow whose run is in memory."""
        steps = steps_of(run.args[0] if run.args else [])
        phase = final_phase(run.meta) or self._active_phase(workflow_id)
        return build_status(
            workflow_id,
            phase,
            steps,
            run.history.values(),
            self.core.codec.decode,
            done=run.kwargs.get("done"),
            tracked=self._tracked.get(workflow_id),
            meta_error=run.meta.error,
        )

    def workflow_of(self, wid: str) -> str:
        """The coordinator's workflow id of engine id ``wid``."""
        return wid[len(self._prefix) :]

    def reads_for(self, core: CoordinatorCore) -> WorkflowStore:
        """The store reader and steerer of ``core``'s workflows."""
        return WorkflowStore(
            self.store, codec=core.codec, wall=core.wall, index_namespace=core.index_namespace
        )

    def _active_phase(self, workflow_id: str) -> WorkflowPhase:
        if workflow_id in self.paused:
            return WorkflowPhase.PAUSED
        if self._prefix + workflow_id in self.core.tasks:
            return WorkflowPhase.RUNNING
        return WorkflowPhase.PENDING

    async def _status_or_none(self, workflow_id: str) -> WorkflowStatus | None:
        try:
            return await self.workflow_status(workflow_id)
        except UnknownWorkflow:
            return None  # finished and forgotten meanwhile
