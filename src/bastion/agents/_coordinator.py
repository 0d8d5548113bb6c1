"""``CoordinatorAgent``: durable workflows dispatched to TaskAgents by capability and load.

::

    coord = await rt.spawn(CoordinatorAgent, name="coordinator", store=store)
    await act(coord, "start_workflow", workflow_id="doc-1", steps=[
        {"name": "fetch", "task_type": "fetch", "payload": {"url": u}},
        {"name": "parse", "task_type": "parse"},          # after "fetch"
    ])
    await act(coord, "workflow_status", workflow_id="doc-1")

Active workflows are persisted (one row each). After a crash or a process restart the
coordinator re-offers every dispatched step under the same task id: TaskAgents queue by
id idempotently and answer with the recorded outcome if the step already finished. A
step whose agent dies is reassigned; a failed step is retried (new task id) up to
``max_step_attempts`` if its failure is retryable (``TaskOutcome.retryable``: not after
an ``ExpectedError`` such as ``ValidationError``, which fails the step at once).
Finished workflows leave memory and the active set; their final state stays
queryable (``workflow_status``) until ``forget``. A step is *offered* without waiting
for the TaskAgent's commit (``_offers``): it is marked dispatched at once and goes to
the agent's mailbox once the coordinator's write recording it is submitted; only a
refusal or an outcome the agent already holds comes back. ``start_workflow`` is still
answered only after the coordinator's own commit, which joins the next group commit of
the store (``_grouped_acks``). Messages handled back to back are saved once, after the
last of them (the next one's save carries the changes and offers of the one before).
The engine (dispatch, outcomes,
deaths, stalls, resume) is :class:`~bastion.agents._workflow_engine.WorkflowEngine`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bastion._core import _event_names, _events
from bastion._core._durations import positive_seconds
from bastion._core._errors import ExpectedError
from bastion._core._messages import Down, MonitorRef
from bastion._core._ref import ActorRef
from bastion._core._timers import Timer
from bastion.agents._actions import action
from bastion.agents._errors import UnknownWorkflow, WorkflowLimitExceeded
from bastion.agents._grouped_acks import AckTurns, CommitAcks, commit_acks, submit_ack
from bastion.agents._offers import Offer, Offered, QueueOffer, answered, send_offers
from bastion.agents._state import ItemMap
from bastion.agents._task_types import TaskFinished
from bastion.agents._workflow import (
    CoordinatorStatistics,
    StepSpec,
    Workflow,
    WorkflowPhase,
    WorkflowStatus,
    build_steps,
    status_of,
)
from bastion.agents._workflow_engine import FINISHED, WorkflowEngine
from bastion.agents._workflow_index import WorkflowIndex
from bastion.persistence import Durability

__all__ = ["CoordinatorAgent", "CoordinatorStatistics"]


@dataclass(frozen=True, slots=True)
class _Resume:
    """Re-offer the restored workflows (sent to itself at start)."""


@dataclass(frozen=True, slots=True)
class _Check:
    """The periodic stall check."""


#: Messages whose handling ends with a save: one of them next in the mailbox carries the
#: changes (and the offers) of the message before it.
_SAVED_AFTER = (TaskFinished, Down, _Check, Offered, _Resume)


class CoordinatorAgent(WorkflowEngine):
    """Runs workflows of steps on TaskAgents found in the registry."""

    capabilities = ("coordination", "orchestration", "workflow_management")
    persistent_fields = (
        "workflows",
        "completed_count",
        "failed_count",
        "cancelled_count",
        "retried_count",
        "reassigned_count",
        "dispatched_count",
        "stalled_count",
    )
    _bastion_framework = True

    workflows: ItemMap[Workflow] = ItemMap()
    completed_count: int = 0
    failed_count: int = 0
    cancelled_count: int = 0
    retried_count: int = 0
    reassigned_count: int = 0
    dispatched_count: int = 0
    stalled_count: int = 0

    def __init__(
        self,
        *,
        max_concurrent_workflows: int = 10,
        max_pending_workflows: int = 1000,
        max_step_attempts: int = 3,
        stall_timeout: float = 300.0,
        check_interval: float = 5.0,
        dispatch_timeout: float = 5.0,
        **kwargs: Any,
    ) -> None:
        """Limits and intervals (seconds, runtime clock); other keywords: PersistentAgent."""
        super().__init__(**kwargs)
        for label, value in (
            ("stall_timeout", stall_timeout),
            ("check_interval", check_interval),
            ("dispatch_timeout", dispatch_timeout),
        ):
            positive_seconds(label, value)
        if min(max_concurrent_workflows, max_pending_workflows, max_step_attempts) < 1:
            raise ValueError("workflow limits and max_step_attempts must be >= 1")
        self.max_concurrent_workflows = max_concurrent_workflows
        self.max_pending_workflows = max_pending_workflows
        self.max_step_attempts = max_step_attempts
        self.stall_timeout = stall_timeout
        self.check_interval = check_interval
        self.dispatch_timeout = dispatch_timeout
        self._progress: dict[str, float] = {}
        self._monitors: dict[str, MonitorRef] = {}
        self._timer: Timer | None = None
        self._index = WorkflowIndex()
        self._offers: dict[str, Offer] = {}  # task id -> the offer awaiting its answer
        #: Task ids of step attempts created by this incarnation and not offered yet.
        self._new_ids: set[str] = set()
        #: Offers made while handling a message; they leave once its write is submitted.
        self._outbox: list[tuple[ActorRef, QueueOffer]] = []
        self._ack_turns: AckTurns | None = None

    # -- actions -----------------------------------------------------------------------
    @action
    async def start_workflow(
        self, steps: list[StepSpec], workflow_id: str | None = None
    ) -> WorkflowStatus:
        """Start (or queue, beyond ``max_concurrent_workflows``) a workflow; idempotent by id."""
        wf_id = workflow_id or f"wf-{self.dispatched_count}-{time.time_ns()}"
        known = await self._find(wf_id)
        if known is not None:
            return status_of(known)
        built = build_steps(steps)
        if len(self.workflows) >= self.max_concurrent_workflows + self.max_pending_workflows:
            raise WorkflowLimitExceeded(f"{self.name} holds {len(self.workflows)} workflows")
        running = self._index.phases[WorkflowPhase.RUNNING]
        status = (
            WorkflowPhase.RUNNING
            if running < self.max_concurrent_workflows
            else WorkflowPhase.PENDING
        )
        wf = Workflow(id=wf_id, status=status, steps=built, created_at=time.time())
        self.workflows[wf_id] = wf
        self._new_ids.update(s.task_id(wf_id) for s in built)
        self._index.add(wf)
        self._progress[wf_id] = self.clock.now()
        _events.emit(
            _event_names.WORKFLOW_STARTED,
            {"steps": len(built)},
            {**self._meta(), "workflow": wf_id},
        )
        await self._advance(wf)
        return status_of(wf)

    @action
    async def workflow_status(self, workflow_id: str) -> WorkflowStatus:
        """Status of an active or finished workflow; UnknownWorkflow otherwise."""
        wf = await self._find(workflow_id)
        if wf is None:
            raise UnknownWorkflow(f"no workflow {workflow_id!r}")
        return status_of(wf)

    @action
    def list_workflows(self) -> list[WorkflowStatus]:
        """Status of every active workflow."""
        return [status_of(w) for w in self.workflows.values()]

    @action
    async def cancel(self, workflow_id: str) -> WorkflowStatus:
        """Cancel an active workflow (running steps finish; their results are ignored)."""
        wf = self._active(workflow_id)
        await self._finish(wf, WorkflowPhase.CANCELLED, "cancelled by request")
        return status_of(wf)

    @action
    def pause(self, workflow_id: str) -> WorkflowStatus:
        """Dispatch no further steps of the workflow until ``resume``."""
        wf = self._active(workflow_id)
        self._index.set_phase(wf, WorkflowPhase.PAUSED)
        self.workflows.touch(wf.id)
        return status_of(wf)

    @action
    async def resume(self, workflow_id: str) -> WorkflowStatus:
        """Continue a paused workflow."""
        wf = self._active(workflow_id)
        if wf.status is WorkflowPhase.PAUSED:
            self._index.set_phase(wf, WorkflowPhase.RUNNING)
            self.workflows.touch(wf.id)
            self._progress[wf.id] = self.clock.now()
            await self._advance(wf)
        return status_of(wf)

    @action
    def forget(self, workflow_id: str) -> None:
        """Delete the stored final state of a finished workflow."""
        self.unstage_item(FINISHED, workflow_id)

    @action(name="statistics")
    def get_statistics(self) -> CoordinatorStatistics:
        """Counters (see :meth:`statistics`)."""
        return self.statistics()

    def statistics(self) -> CoordinatorStatistics:
        """A snapshot of workflow counters."""
        phases = self._index.phases
        return CoordinatorStatistics(
            name=self.name,
            running=phases[WorkflowPhase.RUNNING],
            pending=phases[WorkflowPhase.PENDING],
            paused=phases[WorkflowPhase.PAUSED],
            completed=self.completed_count,
            failed=self.failed_count,
            cancelled=self.cancelled_count,
            retried=self.retried_count,
            reassigned=self.reassigned_count,
            dispatched=self.dispatched_count,
            stalled=self.stalled_count,
        )

    # -- messages: outcomes, agent deaths, ticks, resume after restart ----------------------
    async def _handle_internal(self, message: Any) -> bool:
        if isinstance(message, TaskFinished):
            await self._on_outcome(message.outcome)
        elif isinstance(message, Down):
            await self._on_agent_down(message)
        elif isinstance(message, _Check):
            await self._check()
        elif isinstance(message, Offered):
            await answered(self, message)
        elif isinstance(message, _Resume):
            await self._resume_all()
        elif isinstance(message, CommitAcks):
            await commit_acks(self)
            return True
        else:
            return False
        self._unwatch_idle()
        mailbox = self._bastion_cell.queue
        if mailbox and isinstance(mailbox[0][1], _SAVED_AFTER):
            return True  # saved (and offered) after the next message, with its changes
        submitted = False
        try:
            await self.persist(wait=False)
            submitted = True
        finally:
            await send_offers(self, submitted=submitted)
        return True

    async def _after_dispatch(self, name: str, error: BaseException | None) -> None:
        self._unwatch_idle()
        submitted = False
        try:
            if error is None and self._calling and self.durability is Durability.BATCHED:
                if self._ack_turns is None:
                    self._ack_turns = AckTurns(self.ref)
                await submit_ack(self, self._ack_turns)
            else:
                await super()._after_dispatch(name, error)
            submitted = error is None or isinstance(error, ExpectedError)  # its changes saved
        finally:
            await send_offers(self, submitted=submitted)

    async def _prepare_state(self) -> None:
        await super()._prepare_state()
        self._index.rebuild(self.workflows.values())

    async def setup(self) -> None:
        """Start the periodic check and re-offer restored workflows."""
        self._timer = self.send_interval(self.check_interval, _Check())
        if len(self.workflows):
            self.ref.cast_nowait(_Resume())
