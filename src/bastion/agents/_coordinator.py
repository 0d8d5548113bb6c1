"""``CoordinatorAgent``: workflows of steps run on TaskAgents by capability and load.

::

    coord = await rt.spawn(CoordinatorAgent, name="coordinator", store=store)
    await act(coord, "start_workflow", workflow_id="doc-1", steps=[
        {"name": "fetch", "task_type": "fetch", "payload": {"url": u}},
        {"name": "parse", "task_type": "parse"},          # after "fetch"
    ])
    await act(coord, "workflow_status", workflow_id="doc-1")

A thin layer over the ``@workflow`` engine of ``bastion.workflows``: each workflow is a
durable workflow of the coordinator's own engine (``_coordinated``), whose steps offer
their tasks to TaskAgents and wait for the outcomes (``_dispatch``). The engine records
each completed step once, retries a failed one (``max_step_attempts``, when the outcome
is retryable), and after a crash or a restart resumes every workflow from its records:
a step that was out on an agent is offered again under the same task id (TaskAgents
queue by id idempotently and answer with the recorded outcome). ``start_workflow`` is
answered once the workflow's start is committed. The coordinator's own record holds the
``paused`` set and the counters of :meth:`statistics` (saved with its actions, every
``check_interval`` and at stop: a crash may lose the increments of the last interval).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from bastion._core import _event_names, _events
from bastion._core._durations import positive_seconds
from bastion._core._messages import Down, ExitReason, MonitorRef
from bastion._core._timers import Timer
from bastion.agents._actions import action
from bastion.agents._coordinated import (
    CoordinatorCore,
    Tracked,
    definition_for,
    index_of,
    prefix_of,
    step_options_of,
)
from bastion.agents._coordinator_legacy import LegacyStore
from bastion.agents._coordinator_slots import CoordinatorSlots
from bastion.agents._coordinator_start import Starts
from bastion.agents._dispatch import STALLED, Slot
from bastion.agents._errors import UnknownWorkflow, WorkflowLimitExceeded
from bastion.agents._offers import Offered
from bastion.agents._state import ItemMap
from bastion.agents._task_types import TaskFinished
from bastion.agents._workflow import (
    CoordinatorStatistics,
    StepSpec,
    StoredStep,
    WorkflowPhase,
    WorkflowStatus,
    build_steps,
)
from bastion.persistence import NamespaceData
from bastion.workflows._actor import EngineFaulted
from bastion.workflows._core import Fault
from bastion.workflows._definitions import StepOptions, local_table
from bastion.workflows._engine import prepare_start
from bastion.workflows._kick import CommitKick
from bastion.workflows._records import WorkflowStatus as EngineStatus
from bastion.workflows._run import Run
from bastion.workflows._wall import wall_clock

__all__ = ["CoordinatorAgent", "CoordinatorStatistics"]


@dataclass(frozen=True, slots=True)
class _Check:
    """The periodic check: stalls, steps waiting for an agent, a save of the counters."""


#: The collection of a coordinator workflow that notes which agent holds each task id.
HOLDERS = "holders"
#: Actions whose changes to the coordinator's own record are saved before the reply.
_SAVED_ACTIONS = frozenset({"pause", "resume", "forget"})


class CoordinatorAgent(CoordinatorSlots):
    """Runs workflows of steps on TaskAgents found in the registry."""

    capabilities = ("coordination", "orchestration", "workflow_management")
    persistent_fields = (
        "paused",
        "completed_count",
        "failed_count",
        "cancelled_count",
        "retried_count",
        "reassigned_count",
        "dispatched_count",
        "stalled_count",
    )
    _bastion_framework = True

    paused: ItemMap[float] = ItemMap()
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
        self._timer: Timer | None = None
        self._tracked: dict[str, Tracked] = {}
        self._fresh: set[str] = set()  # started here, not yet running
        self._slots: dict[str, Slot] = {}  # task id -> the step waiting for its outcome
        self._on_agent: dict[str, set[Slot]] = {}
        self._monitors: dict[str, MonitorRef] = {}
        self._tick: asyncio.Future[None] | None = None
        self._options: dict[tuple[str, int], StepOptions] = {}
        self._definition = definition_for(self)
        self._legacy = LegacyStore()
        self._starts = Starts()

    # -- actions -----------------------------------------------------------------------
    @action
    async def start_workflow(
        self, steps: list[StepSpec], workflow_id: str | None = None
    ) -> WorkflowStatus:
        """Start (or queue, beyond ``max_concurrent_workflows``) a workflow; idempotent by
        id. Answered once its start is committed (the coordinator goes on meanwhile)."""
        wf_id = workflow_id or f"wf-{self.dispatched_count}-{time.time_ns()}"
        core = self.core
        wid = self._prefix + wf_id
        if wid in core.starting:
            joined: WorkflowStatus = self._starts.join(self, wid)  # NoReply: answered later
            return joined
        if wid in core.active or await self._legacy.holds(self, wf_id):
            return await self.workflow_status(wf_id)
        built = build_steps(steps)
        held = len(core.active) + len(core.starting) + len(self.paused)
        if held >= self.max_concurrent_workflows + self.max_pending_workflows:
            raise WorkflowLimitExceeded(f"{self.name} holds {held} workflows")
        args = self.codec.encode([built], list[list[StoredStep]])  # typed: no tag walk
        ops, run = prepare_start(core, self._definition, wid, (built,), {}, encoded_args=args)
        self._fresh.add(wf_id)
        begun: WorkflowStatus = await self._starts.begin(self, wid, ops, run, built)  # NoReply
        return begun

    @action
    async def cancel(self, workflow_id: str) -> WorkflowStatus:
        """Cancel an active workflow: its run stops; a task already out on an agent
        finishes there, and its result is ignored."""
        wid = self._active_id(workflow_id)
        info = await self.workflows.cancel(wid)
        if info.status is not EngineStatus.CANCELLED:  # it finished meanwhile
            return await self.workflow_status(workflow_id)
        await self._stop_run(wid)
        self._ended(workflow_id)
        self.cancelled_count += 1
        status = await self.workflow_status(workflow_id)
        self._announce(WorkflowPhase.CANCELLED, status)
        return status

    @action
    async def pause(self, workflow_id: str) -> WorkflowStatus:
        """Dispatch no further steps of the workflow until ``resume`` (stored: it stays
        paused after a restart). A step already out on an agent finishes and is recorded;
        then the run stops and frees its slot under ``max_concurrent_workflows``."""
        wid = self._active_id(workflow_id)
        if workflow_id not in self.paused:
            self.paused[workflow_id] = time.time()
            self.core.held.add(wid)
            tracked = self._tracked.get(workflow_id)
            if tracked is None or not tracked.slots:  # nothing out on an agent: stop now
                self._tracked.pop(workflow_id, None)
                await self._stop_run(wid)
        return await self.workflow_status(workflow_id)

    @action
    async def resume(self, workflow_id: str) -> WorkflowStatus:
        """Continue a paused workflow (it runs again from its records, in its turn under
        ``max_concurrent_workflows``)."""
        wid = self._active_id(workflow_id)
        if workflow_id in self.paused:
            del self.paused[workflow_id]
            self.core.held.discard(wid)
            self.core.requeue(wid)
        return await self.workflow_status(workflow_id)

    @action(name="statistics")
    def get_statistics(self) -> CoordinatorStatistics:
        """Counters (see :meth:`statistics`)."""
        return self.statistics()

    def statistics(self) -> CoordinatorStatistics:
        """A snapshot of workflow counters; ``running``: workflows with a run task,
        ``pending``: the others waiting for a slot, ``paused``: held until ``resume``."""
        core, prefix = self.core, self._prefix
        held = [prefix + w for w in self.paused]  # (a run may still finish its last step)
        running = len(core.tasks) - sum(1 for w in held if w in core.tasks)
        pending = len(core.active) - running - sum(1 for w in held if w in core.active)
        return CoordinatorStatistics(
            name=self.name,
            running=running,
            pending=max(0, pending),
            paused=len(held),
            completed=self.completed_count,
            failed=self.failed_count,
            cancelled=self.cancelled_count,
            retried=self.retried_count,
            reassigned=self.reassigned_count,
            dispatched=self.dispatched_count,
            stalled=self.stalled_count,
        )

    # -- what the workflows' steps use (``_coordinated``, ``_dispatch``) ----------------
    def track(self, workflow: str, base: dict[str, int]) -> None:
        """The run of ``workflow`` (re)started: hold its in-memory state."""
        fresh = workflow in self._fresh
        self._fresh.discard(workflow)
        self._tracked[workflow] = Tracked(self.clock.now(), fresh=fresh, base=base)

    def tracked(self, workflow: str) -> Tracked:
        """The in-memory state of a running workflow."""
        return self._tracked[workflow]

    def stop_if_paused(self, workflow: str) -> None:
        """Before a step is offered: a paused workflow's run stops here (it runs again
        from its records when resumed)."""
        if workflow in self.paused:
            self._tracked.pop(workflow, None)
            raise asyncio.CancelledError  # the run ends as cancelled; its records stay

    def step_options(self, workflow: str, step: str) -> StepOptions:
        """The engine options of ``step`` (attempts left after a migrated workflow's)."""
        base = self._tracked[workflow].base.get(step, 0)
        key = (step, base)
        options = self._options.get(key)
        if options is None:
            options = self._options[key] = step_options_of(step, self.max_step_attempts - base)
        return options

    def attempt_base(self, workflow: str, step: str) -> int:
        """Attempts of ``step`` made before the workflow ran on the engine (migrated)."""
        return self._tracked[workflow].base.get(step, 0)

    def workflow_finished(self, run: Run) -> None:
        """The engine recorded a workflow's end (completed or failed)."""
        workflow = self.workflow_of(run.id)
        completed = run.meta.status is EngineStatus.COMPLETED
        phase = WorkflowPhase.COMPLETED if completed else WorkflowPhase.FAILED
        if completed:
            self.completed_count += 1
        else:
            self.failed_count += 1
        self._ended(workflow)
        if self.signals is not None or _events.listened((_event_names.WORKFLOW_FINISHED[phase],)):
            self._announce(phase, self.status_of_run(workflow, run))  # (built only if heard)

    # -- messages ------------------------------------------------------------------------
    async def _handle_internal(self, message: Any) -> bool:
        if isinstance(message, TaskFinished):
            slot = self._slots.get(message.outcome.id)
            if slot is not None:
                slot.resolve(message.outcome)
        elif isinstance(message, Offered):
            self._answered(message)
        elif isinstance(message, Down):
            self._agent_down(message)
        elif isinstance(message, _Check):
            await self._check()
        elif isinstance(message, Fault):
            raise EngineFaulted(
                f"workflow {message.workflow_id!r}: the store failed ({message.error}); "
                "restarting the coordinator to resume its workflows from the store"
            )
        else:
            return False
        return True

    async def _check(self) -> None:
        tick, self._tick = self._tick, None
        if tick is not None and not tick.done():
            tick.set_result(None)
        now = self.clock.now()
        for workflow, tracked in list(self._tracked.items()):
            if now - tracked.progress < self.stall_timeout:
                continue
            self.stalled_count += 1
            tracked.progress = now
            _events.emit(
                _event_names.WORKFLOW_STALLED, {"count": 1}, {**self._meta(), "workflow": workflow}
            )
            run = self.core.active.get(self._prefix + workflow)
            if run is not None:
                self.publish("workflow.stalled", self.status_of_run(workflow, run))
            for slot in list(tracked.slots.values()):
                slot.resolve(STALLED)
        await self.persist(wait=False)

    def _ended(self, workflow: str) -> None:
        self._tracked.pop(workflow, None)
        self._fresh.discard(workflow)
        if workflow in self.paused:
            del self.paused[workflow]
        self.core.held.discard(self._prefix + workflow)

    def _announce(self, phase: WorkflowPhase, status: WorkflowStatus) -> None:
        _events.emit(
            _event_names.WORKFLOW_FINISHED[phase.value],
            {"count": 1},
            {**self._meta(), "workflow": status.id, "error": status.error},
        )
        self.publish(f"workflow.{phase}", status)

    def _active_id(self, workflow_id: str) -> str:
        wid = self._prefix + workflow_id
        if wid not in self.core.active and workflow_id not in self.paused:
            raise UnknownWorkflow(f"no active workflow {workflow_id!r}")
        return wid

    # -- life ------------------------------------------------------------------------------
    async def _after_dispatch(self, name: str, error: BaseException | None) -> None:
        # A start's answer waits for the engine's commit of the start, not for this
        # record: the counters ride with the next save (see the module).
        if name in _SAVED_ACTIONS or error is not None:
            await super()._after_dispatch(name, error)

    async def _load_state(self) -> NamespaceData:
        data = await super()._load_state()
        self._legacy.found(data, self.codec)
        return data

    async def setup(self) -> None:
        """Open the coordinator's engine on its store and resume its workflows."""
        name = self.name or self.namespace
        self._prefix = prefix_of(name)
        core = CoordinatorCore(
            self.runtime,
            self.store,
            self.codec,
            durability=self.durability,
            write_timeout=self.write_timeout,
            max_inbox=1,
            max_running=self.max_concurrent_workflows,
            local=local_table([self._definition]),
            index_namespace=index_of(name),
        )
        core.coordinator = self
        core.held.update(self._prefix + w for w in self.paused)  # not run until resumed
        core.ordered_writes = True  # its steps are TaskAgents' writes (see _coordinated)
        self._starts.kick = CommitKick(self.runtime, self.store)  # starts share commits
        core.wall = wall_clock(self.runtime.loop)
        self.core = core
        self.workflows = self.reads_for(core)
        await self._legacy.migrate(self)
        try:
            await core.attach(self.ref)
        except BaseException:
            core.detach()
            raise
        self._timer = self.send_interval(self.check_interval, _Check())

    async def teardown(self, reason: ExitReason) -> None:
        """Stop the runs of this incarnation (their progress is in the store)."""
        core = getattr(self, "core", None)
        if core is not None:
            core.detach()
