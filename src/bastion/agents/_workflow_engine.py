"""How a CoordinatorAgent moves its workflows on: dispatch, outcomes, deaths, stalls.

:class:`WorkflowEngine` is the engine under :class:`~bastion.agents.CoordinatorAgent`
(which adds the actions, limits and the messages' routing): it offers every ready step
of a running workflow to the least loaded TaskAgent with its capability (``_offers``),
applies outcomes (completion, retry with a new task id, failure), finishes a workflow
and promotes the oldest pending one into its slot, reassigns the steps of an agent that
died, re-offers the steps of a stalled workflow, and after a restart re-offers every
dispatched step under the same task id.
"""

from __future__ import annotations

import time

from bastion._core import _event_names, _events
from bastion._core._messages import Down, MonitorRef
from bastion._core._ref import ActorRef
from bastion._core._registry import RegistryEntry
from bastion.agents._errors import UnknownWorkflow
from bastion.agents._offers import Offer, QueueOffer, offer
from bastion.agents._persistent import PersistentAgent
from bastion.agents._state import ItemMap
from bastion.agents._task_types import TaskOutcome, TaskStatus
from bastion.agents._workflow import (
    ACTIVE,
    StepPhase,
    StepState,
    Workflow,
    WorkflowPhase,
    ready_steps,
    status_of,
)
from bastion.agents._workflow_index import WorkflowIndex

__all__ = ["FINISHED", "WorkflowEngine"]

#: The collection of finished workflows' final states.
FINISHED = "finished"


class WorkflowEngine(PersistentAgent):
    """The workflow-running half of a CoordinatorAgent (its fields are declared there)."""

    _bastion_framework = True

    # Declared by CoordinatorAgent (state fields with their defaults) and set by its __init__.
    workflows: ItemMap[Workflow]
    completed_count: int
    failed_count: int
    cancelled_count: int
    retried_count: int
    reassigned_count: int
    dispatched_count: int
    stalled_count: int
    max_concurrent_workflows: int
    max_step_attempts: int
    stall_timeout: float
    dispatch_timeout: float
    _progress: dict[str, float]
    _monitors: dict[str, MonitorRef]
    _index: WorkflowIndex
    _offers: dict[str, Offer]
    _new_ids: set[str]
    _outbox: list[tuple[ActorRef, QueueOffer]]

    async def _find(self, wf_id: str) -> Workflow | None:
        active = self.workflows.get(wf_id)
        if active is not None:
            return active
        finished: Workflow | None = await self.read_item(FINISHED, wf_id, Workflow)
        return finished

    def _active(self, wf_id: str) -> Workflow:
        wf = self.workflows.get(wf_id)
        if wf is None:
            raise UnknownWorkflow(f"no active workflow {wf_id!r}")
        return wf

    async def _advance(self, wf: Workflow) -> None:
        if wf.status is not WorkflowPhase.RUNNING:
            return
        failed = [s for s in wf.steps if s.status is StepPhase.FAILED]
        if failed:
            error = f"step {failed[0].name!r}: {failed[0].error}"
            await self._finish(wf, WorkflowPhase.FAILED, error)
            return
        if all(s.status is StepPhase.COMPLETED for s in wf.steps):
            await self._finish(wf, WorkflowPhase.COMPLETED, None)
            return
        for step in ready_steps(wf):
            await self._dispatch(wf, step)

    async def _dispatch(self, wf: Workflow, step: StepState) -> None:
        offer(self, wf, step, self._candidates(step), step.agent)

    def _candidates(self, step: StepState) -> list[RegistryEntry]:
        wanted = step.capability or step.task_type
        found = [
            e
            for e in self.runtime.registry.select(capabilities=wanted)
            if e.metadata.get("health") != "paused" and e.ref.is_alive
        ]
        # the agent that had the step first (a re-offer is idempotent there), then by load
        return sorted(
            found, key=lambda e: (e.name != step.agent, e.metadata.get("load", 0), e.name)
        )

    def _watch(self, name: str, ref: ActorRef) -> None:
        if name not in self._monitors:
            self._monitors[name] = self.monitor(ref)

    def _unwatch_idle(self) -> None:
        """Demonitor agents that no longer hold a dispatched step."""
        for name in self._index.newly_idle():
            monitor = self._monitors.pop(name, None)
            if monitor is not None:
                self.demonitor(monitor)

    async def _apply_outcome(self, wf: Workflow, step: StepState, outcome: TaskOutcome) -> None:
        self._index.release(step)
        if outcome.status is TaskStatus.COMPLETED:
            step.status, step.result = StepPhase.COMPLETED, outcome.result
        elif outcome.retryable and step.attempts < self.max_step_attempts:
            step.attempts += 1
            step.status, step.agent = StepPhase.PENDING, None
            self._new_ids.add(step.task_id(wf.id))
            self.retried_count += 1
        else:
            step.status, step.error = StepPhase.FAILED, outcome.error
        self.workflows.touch(wf.id)
        self._progress[wf.id] = self.clock.now()
        await self._advance(wf)

    async def _finish(self, wf: Workflow, status: WorkflowPhase, error: str | None) -> None:
        self._index.remove(wf)
        for step in wf.steps:
            task_id = step.task_id(wf.id)
            self._offers.pop(task_id, None)
            self._new_ids.discard(task_id)
        wf.status, wf.error, wf.finished_at = status, error, time.time()
        del self.workflows[wf.id]
        self._progress.pop(wf.id, None)
        self.stage_item(FINISHED, wf.id, wf, Workflow)
        if status is WorkflowPhase.COMPLETED:
            self.completed_count += 1
        elif status is WorkflowPhase.FAILED:
            self.failed_count += 1
        else:
            self.cancelled_count += 1
        _events.emit(
            _event_names.WORKFLOW_FINISHED[status.value],
            {"count": 1},
            {**self._meta(), "workflow": wf.id, "error": error},
        )
        self.publish(f"workflow.{status}", status_of(wf))
        await self._promote()

    async def _promote(self) -> None:
        """Start pending workflows, oldest first, while there is a free slot."""
        index = self._index
        while index.phases[WorkflowPhase.RUNNING] < self.max_concurrent_workflows:
            wf_id = index.oldest_pending()
            if wf_id is None:
                return
            wf = self.workflows[wf_id]
            index.set_phase(wf, WorkflowPhase.RUNNING)
            self.workflows.touch(wf.id)
            self._progress[wf.id] = self.clock.now()
            await self._advance(wf)

    async def _on_outcome(self, outcome: TaskOutcome) -> None:
        wf_id, _, _step = outcome.id.partition("/")
        wf = self.workflows.get(wf_id)
        if wf is None or wf.status not in ACTIVE:
            return
        for step in wf.steps:
            if step.task_id(wf.id) == outcome.id and step.status is StepPhase.DISPATCHED:
                self._offers.pop(outcome.id, None)  # an offer taken answers only a refusal
                await self._apply_outcome(wf, step, outcome)
                return

    async def _on_agent_down(self, down: Down) -> None:
        name = down.ref.name
        if name is None or self._monitors.pop(name, None) is None:
            return
        for wf in list(self.workflows.values()):
            for step in wf.steps:
                if step.status is StepPhase.DISPATCHED and step.agent == name:
                    self._index.release(step)
                    step.status, step.agent = StepPhase.PENDING, None
                    step.reassigned += 1
                    self.reassigned_count += 1
                    self.workflows.touch(wf.id)
            await self._advance(wf)

    async def _check(self) -> None:
        now = self.clock.now()
        for wf in list(self.workflows.values()):
            if wf.status is not WorkflowPhase.RUNNING:
                continue
            if now - self._progress.get(wf.id, now) >= self.stall_timeout:
                self.stalled_count += 1
                self._progress[wf.id] = now
                _events.emit(
                    _event_names.WORKFLOW_STALLED, {"count": 1}, {**self._meta(), "workflow": wf.id}
                )
                self.publish("workflow.stalled", status_of(wf))
                await self._reoffer(wf)
            await self._advance(wf)

    async def _reoffer(self, wf: Workflow) -> None:
        for step in wf.steps:
            if step.status is StepPhase.DISPATCHED:
                self._index.release(step)
                step.status = StepPhase.PENDING  # keeps step.agent: offered there first again
                self.workflows.touch(wf.id)

    async def _resume_all(self) -> None:
        for wf in sorted(self.workflows.values(), key=lambda w: w.created_at):
            self._progress[wf.id] = self.clock.now()
            await self._reoffer(wf)
            await self._advance(wf)
