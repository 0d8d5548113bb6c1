"""A CoordinatorAgent's ``start_workflow``: answered on commit, the coordinator not waiting.

The start of a workflow (its engine records) is submitted *deferred* and the call is
answered from the write's completion (a deferred reply): meanwhile the coordinator
handles its next messages, and the starts of concurrent clients share one group commit
(``bastion.workflows._kick`` starts one if nothing else does within a few loop turns).
Once committed, the run is handed to the engine and the caller gets the workflow's
status; a start of an id that exists already (the write's version check) is answered
with that workflow's status; a second start of an id whose start is in flight is
answered with the first one's. A failed write fails the calls and restarts the
coordinator, which resumes from the store.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

from bastion._core import _event_names, _events
from bastion._core._errors import ActorCrashed, BastionError
from bastion._core._replies import NoReply, ReplyHandle
from bastion.agents._workflow import StepPhase, StoredStep, WorkflowPhase, WorkflowStatus
from bastion.persistence import Durability, Op, VersionConflict, WriteResult
from bastion.workflows._engine import launch_started
from bastion.workflows._kick import CommitKick
from bastion.workflows._run import Run

if TYPE_CHECKING:
    from bastion.agents._coordinator import CoordinatorAgent

__all__ = ["Starts"]


class Starts:
    """The starts of one coordinator whose write has not committed yet."""

    def __init__(self) -> None:
        self.kick: CommitKick | None = None
        self._waiting: dict[str, list[ReplyHandle]] = {}

    def join(self, coord: CoordinatorAgent, wid: str) -> Any:
        """Answer this call with the in-flight start of ``wid`` (NoReply)."""
        self._waiting[wid].append(coord.reply_handle())
        return NoReply

    async def begin(
        self, coord: CoordinatorAgent, wid: str, ops: list[Op], run: Run, steps: list[StoredStep]
    ) -> Any:
        """Submit the start of ``wid``; the call is answered once it committed (NoReply)."""
        core = coord.core
        strict = coord.durability is Durability.STRICT
        self._waiting[wid] = [coord.reply_handle()]
        core.starting.add(wid)
        try:
            fut = await coord.store.submit(ops, sync=strict, defer=not strict)
        except BaseException:
            self._waiting.pop(wid, None)
            core.starting.discard(wid)
            raise
        done = functools.partial(self._committed, coord, wid, run, steps)
        if fut.done():
            done(fut)
        else:
            if self.kick is not None and not strict:
                self.kick.arm(fut)
            fut.add_done_callback(done)
        return NoReply

    def _committed(
        self,
        coord: CoordinatorAgent,
        wid: str,
        run: Run,
        steps: list[StoredStep],
        fut: asyncio.Future[WriteResult],
    ) -> None:
        core = coord.core
        handles = self._waiting.pop(wid, [])
        core.starting.discard(wid)
        workflow = coord.workflow_of(wid)
        error: BaseException | None = (
            ActorCrashed("the start's write was cancelled") if fut.cancelled() else fut.exception()
        )
        if error is None:
            launch_started(core, run)
            if wid not in core.tasks:
                coord._fresh.discard(workflow)  # queued: it runs as not fresh (the safe side)
            _events.emit(
                _event_names.WORKFLOW_STARTED,
                {"steps": len(steps)},
                {**coord._meta(), "workflow": workflow},
            )
            status = _new_status(workflow, wid in core.tasks, steps)
            for handle in handles:
                handle.reply(status)
            return
        coord._fresh.discard(workflow)
        if isinstance(error, VersionConflict):  # it exists already: answer with its status
            coord.runtime.tasks.start(
                _answer_existing, coord, workflow, handles, name=f"start:{workflow}"
            )
            return
        crashed = ActorCrashed(f"{coord!r}: the start of {workflow!r} failed: {error!r}")
        crashed.__cause__ = error
        for handle in handles:
            handle.fail(crashed)
        coord.ref.kill(error)  # it restarts and resumes from the store


async def _answer_existing(
    coord: CoordinatorAgent, workflow: str, handles: list[ReplyHandle]
) -> None:
    try:
        status = await coord.workflow_status(workflow)
    except BastionError as exc:  # (UnknownWorkflow: forgotten meanwhile; a store error)
        for handle in handles:
            handle.fail(exc)
        return
    for handle in handles:
        handle.reply(status)


def _new_status(workflow: str, running: bool, steps: list[StoredStep]) -> WorkflowStatus:
    return WorkflowStatus(
        id=workflow,
        status=WorkflowPhase.RUNNING if running else WorkflowPhase.PENDING,
        progress=0.0,
        completed_steps=0,
        total_steps=len(steps),
        steps={s.name: StepPhase.PENDING for s in steps},
        results={},
        error=None,
        retried=0,
        reassigned=0,
    )
