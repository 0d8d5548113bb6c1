"""The engine's shared state: active runs, their tasks, waiters, and how runs are loaded.

``EngineCore`` outlives the engine actor's incarnations: result and event waiters stay
while the actor is restarted. The runs themselves belong to the current incarnation
(``attach``/``detach``): a crash cancels every run task, the restarted actor loads the
active index again and resumes each workflow from its history.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from bastion._core import _event_names, _events
from bastion._core._runtime import Runtime
from bastion.persistence import (
    Codec,
    CorruptState,
    DeleteItem,
    Durability,
    NamespaceData,
    PutItem,
    StateStore,
)
from bastion.workflows._definitions import WorkflowDefinition, find_definition, versions_of
from bastion.workflows._errors import CorruptWorkflow, IncompatibleWorkflow
from bastion.workflows._records import (
    ACTIVE_COLLECTION,
    FENCE,
    INBOX,
    INDEX_NAMESPACE,
    INPUT,
    META,
    STEPS,
    Meta,
    StepRecord,
    decode_input,
    decode_meta,
    decode_step,
    encode,
    namespace_of,
    step_key,
)
from bastion.workflows._run import EngineFault, Run
from bastion.workflows._signals import Signals

if TYPE_CHECKING:
    from bastion._core._ref import ActorRef

__all__ = ["EngineCore", "Fault"]

_log = logging.getLogger("bastion.workflows")
_SPAN_EVENTS = tuple(
    (*_event_names.DURABLE_WORKFLOW, end) for end in ("start", "stop", "exception")
)


class Fault(msgspec.Struct, frozen=True):
    """Sent to the engine actor when a run hit a store failure: the actor crashes."""

    workflow_id: str
    error: str


class EngineCore(Signals):
    """State shared by an engine and the incarnations of its actor."""

    span_events = _SPAN_EVENTS

    def __init__(
        self,
        runtime: Runtime,
        store: StateStore,
        codec: Codec,
        *,
        durability: Durability,
        write_timeout: float,
        max_inbox: int,
        max_running: int,
        local: dict[str, dict[str, WorkflowDefinition]],
    ) -> None:
        super().__init__()
        self.local = local
        self.runtime = runtime
        self.store = store
        self.codec = codec
        self.durability = durability
        self.write_timeout = write_timeout
        self.max_inbox = max_inbox
        self.max_running = max_running
        self.wall: Callable[[], float] = time.time
        self.active: dict[str, Run | None] = {}  # None: queued, not loaded yet
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.queue: deque[str] = deque()
        self.relaunch: set[str] = set()  # queued again while the old run still ends
        self.refused: dict[str, BaseException] = {}
        self.owner: ActorRef | None = None
        self.accepting = False
        self._sequence = itertools.count()
        self._last_sequence = 0
        self.counts = {"started": 0, "resumed": 0, "finished": 0, "fenced": 0, "faults": 0}

    # -- helpers the runs use ---------------------------------------------------------------
    def decode(self, raw: msgspec.Raw) -> Any:
        """A recorded value."""
        return self.codec.decode(bytes(raw))

    @staticmethod
    def step_op(namespace: str, step_no: int, step: StepRecord) -> PutItem:
        """The op that stores step ``step_no``."""
        return PutItem(namespace, STEPS, step_key(step_no), encode(step))

    async def sleep_until(self, when: float) -> None:
        """Sleep until wall time ``when`` (on the runtime's loop: virtual in tests)."""
        delay = when - self.wall()
        if delay > 0:
            await asyncio.sleep(delay)

    def sequence(self) -> int:
        """A number larger than every one handed out before (orders messages)."""
        value = max(time.time_ns(), self._last_sequence + 1)
        self._last_sequence = value
        return value

    # -- incarnations ------------------------------------------------------------------------
    async def attach(self, owner: ActorRef) -> None:
        """A new engine actor owns the runs: queue every active workflow of the store."""
        self.owner, self.accepting = owner, True
        data = await self.store.load(INDEX_NAMESPACE)
        for workflow_id, _ in data.collections.get(ACTIVE_COLLECTION, []):
            if workflow_id not in self.active:
                self.active[workflow_id] = None
                self.queue.append(workflow_id)
        self.launch_more()

    def detach(self) -> None:
        """The engine actor stops: cancel every run (their state is in the store)."""
        self.accepting, self.owner = False, None
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        self.tasks.clear()
        self.active.clear()
        self.queue.clear()
        self.relaunch.clear()

    # -- launching -----------------------------------------------------------------------------
    def enqueue(self, run: Run) -> None:
        """Run a workflow just started (or resumed) in this process."""
        if not self.accepting or run.id in self.active:
            return  # the next incarnation finds it in the active index
        self.active[run.id] = run
        self.queue.append(run.id)
        self.launch_more()

    def launch_more(self) -> None:
        """Start queued runs while fewer than ``max_running`` run."""
        while self.queue and len(self.tasks) < self.max_running:
            workflow_id = self.queue.popleft()
            if workflow_id not in self.active:
                continue
            if workflow_id in self.tasks:  # its old run is still ending (a cancel, a resume)
                self.relaunch.add(workflow_id)
                continue
            task = self.runtime.tasks.start(
                self._drive, workflow_id, name=f"workflow {workflow_id}"
            )
            self.tasks[workflow_id] = task
            task.add_done_callback(functools.partial(self._task_done, workflow_id))

    def _task_done(self, workflow_id: str, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:  # a bug of the engine
            self.fault(None, EngineFault(task.exception()), workflow_id)
        if self.tasks.get(workflow_id) is task:
            del self.tasks[workflow_id]
            if workflow_id in self.relaunch:
                self.relaunch.discard(workflow_id)
                self.queue.append(workflow_id)
            else:
                self.active.pop(workflow_id, None)
        self.launch_more()

    async def _drive(self, workflow_id: str) -> None:
        run = self.active.get(workflow_id)
        if run is None:
            try:
                run = await self._load(workflow_id)
            except EngineFault as fault:
                self.fault(None, fault, workflow_id)
                return
            if run is None:
                return
            self.active[workflow_id] = run
            self.counts["resumed"] += 1
        run.task = self.tasks.get(workflow_id)
        await run.execute()

    # -- loading ---------------------------------------------------------------------------------
    async def _load(self, workflow_id: str) -> Run | None:
        """The run of a stored active workflow, claimed (fence bumped); None if refused."""
        namespace = namespace_of(workflow_id)
        data = await self.store.load(namespace)
        try:
            run = self._decode(workflow_id, data)
        except CorruptState as exc:
            await self._quarantine(workflow_id, exc)
            return None
        except IncompatibleWorkflow as exc:
            self.refuse(workflow_id, exc)
            return None
        if run is None:  # finished or gone: a stale index entry
            await self.store.submit([DeleteItem(INDEX_NAMESPACE, ACTIVE_COLLECTION, workflow_id)])
            return None
        await run.write([])  # claims the workflow: a stale run's next write is fenced
        return run

    def _decode(self, workflow_id: str, data: NamespaceData) -> Run | None:
        meta_record = data.records.get(META)
        if meta_record is None:
            return None
        meta = decode_meta(meta_record.data, workflow_id)
        if meta.status.finished:
            return None
        definition = find_definition(meta.name, meta.version, self.local)
        if definition is None:
            message = _incompatible(workflow_id, meta, versions_of(meta.name, self.local))
            raise IncompatibleWorkflow(message, context={"workflow_id": workflow_id})
        input_record = data.records.get(INPUT)
        if input_record is None:
            raise CorruptState(f"workflow {workflow_id!r} has no input record")
        stored = decode_input(input_record.data, workflow_id)
        args = self.codec.decode(bytes(stored.args))
        kwargs = self.codec.decode(bytes(stored.kwargs)) or {}
        if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
            raise CorruptState(f"workflow {workflow_id!r}: the input record is malformed")
        history = {
            int(key): decode_step(raw, workflow_id, key)
            for key, raw in data.collections.get(STEPS, [])
        }
        inbox: dict[str, dict[str, bytes]] = {}
        for key, raw in data.collections.get(INBOX, []):
            topic = key.partition("\x00")[0]
            inbox.setdefault(topic, {})[key] = raw
        fence = data.records.get(FENCE)
        return Run(
            self,
            workflow_id,
            namespace_of(workflow_id),
            definition,
            meta,
            fence.version if fence else 0,
            history,
            inbox,
            list(args),
            kwargs,
        )

    async def _quarantine(self, workflow_id: str, exc: CorruptState) -> None:
        namespace = namespace_of(workflow_id)
        entry = await self.store.quarantine(namespace, f"{type(exc).__name__}: {exc}")
        await self.store.submit([DeleteItem(INDEX_NAMESPACE, ACTIVE_COLLECTION, workflow_id)])
        error = CorruptWorkflow(
            f"workflow {workflow_id!r}: stored data did not decode and was quarantined "
            f"(see the store's quarantine): {exc}",
            context={"workflow_id": workflow_id},
        )
        _events.emit(
            _event_names.DURABLE_WORKFLOW_QUARANTINED,
            {"records": entry.records, "items": entry.items},
            {"workflow_id": workflow_id, "namespace": namespace, "error": exc},
        )
        _log.error("%s", error)
        self.refuse(workflow_id, error)

    def refuse(self, workflow_id: str, error: BaseException) -> None:
        """This engine cannot run the workflow: tell its waiters why."""
        self.refused[workflow_id] = error
        self.active.pop(workflow_id, None)
        _events.emit(
            _event_names.DURABLE_WORKFLOW_REFUSED,
            {"count": 1},
            {"workflow_id": workflow_id, "error": error},
        )
        self.resolve(workflow_id, None, error)

    # -- endings -----------------------------------------------------------------------------------
    def finished(self, run: Run, error: BaseException | None) -> None:
        """The run recorded its final status."""
        self.counts["finished"] += 1
        self.resolve(run.id, run.meta, error)

    def fenced(self, run: Run) -> None:
        """The run's write was rejected: someone else (a cancellation) owns the workflow."""
        self.counts["fenced"] += 1

    def fault(self, run: Run | None, fault: EngineFault, workflow_id: str = "") -> None:
        """A store failure under a run: crash the engine actor, which resumes everything."""
        self.counts["faults"] += 1
        cause = fault.args[0] if fault.args else fault
        wid = run.id if run is not None else workflow_id
        owner = self.owner
        if owner is not None and owner.is_alive:
            owner.cast_nowait(Fault(wid, f"{type(cause).__name__}: {cause}"))


def _incompatible(workflow_id: str, meta: Meta, known: list[str]) -> str:
    if not known:
        return (
            f"workflow {workflow_id!r} runs {meta.name!r} version {meta.version}, and no "
            f"workflow of that name is registered in this process: import the module that "
            f"defines it, or cancel the workflow"
        )
    return (
        f"workflow {workflow_id!r} started on version {meta.version} of {meta.name!r}; "
        f"this process has versions {known}: keep the old code registered as "
        f"@workflow(name={meta.name!r}, version={meta.version!r}) until it finishes, "
        f"or cancel it"
    )
