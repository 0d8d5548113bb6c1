"""The engine's shared state: active runs, their tasks, waiters, and how runs are loaded.

``EngineCore`` outlives the engine actor's incarnations: result and event waiters stay
while the actor is restarted. The runs themselves belong to the current incarnation
(``attach``/``detach``): a crash cancels every run task, the restarted actor loads the
active index again and resumes each workflow from its history.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
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
    Op,
    PutItem,
    StateStore,
    StoreTimeout,
    WriteResult,
)
from bastion.workflows._definitions import WorkflowDefinition, find_definition, versions_of
from bastion.workflows._errors import CorruptWorkflow, IncompatibleWorkflow
from bastion.workflows._launcher import Launcher
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
from bastion.workflows._watch import CommitWatch

if TYPE_CHECKING:
    pass

__all__ = ["EngineCore", "Fault", "SubmitThen"]

#: ``submit_then(ops, then, *, sync)``: submit a batch; ``then(error)`` once it settles.
SubmitThen = Callable[..., Awaitable[asyncio.Future[WriteResult]]]

_log = logging.getLogger("bastion.workflows")
_SPAN_EVENTS = tuple(
    (*_event_names.DURABLE_WORKFLOW, end) for end in ("start", "stop", "exception")
)


class Fault(msgspec.Struct, frozen=True):
    """Sent to the engine actor when a run hit a store failure: the actor crashes."""

    workflow_id: str
    error: str


class EngineCore(Signals, Launcher):
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
        index_namespace: str = INDEX_NAMESPACE,
    ) -> None:
        Signals.__init__(self)
        Launcher.__init__(self)
        self.local = local
        #: where the active workflows of this engine are listed (an embedded engine, such
        #: as a CoordinatorAgent's, keeps its own list: other engines never load its work)
        self.index_namespace = index_namespace
        #: set by an embedded engine whose steps order their own effects after the run's
        #: writes through the same store (the CoordinatorAgent's steps are writes of
        #: TaskAgents on it: a store applies batches in submission order): no step waits
        #: for the commit of the records before it, and the run's records are submitted
        #: deferred (they commit with the next group; nobody waits for them)
        self.ordered_writes = False
        self.runtime = runtime
        self.store = store
        self.codec = codec
        self.durability = durability
        self.write_timeout = write_timeout
        self.watch = CommitWatch(write_timeout)  # the timeout of every commit wait
        #: the store's ``submit_then`` (an optional method: SQLite), else None
        self.submit_then: SubmitThen | None = getattr(store, "submit_then", None)
        self.max_inbox = max_inbox
        self.max_running = max_running
        self.wall: Callable[[], float] = time.time
        self.refused: dict[str, BaseException] = {}
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

    async def commit(self, ops: list[Op], store: StateStore) -> None:
        """Submit ``ops`` to ``store`` and wait for their commit: the write's error if it
        failed, StoreTimeout if it was not committed within ``write_timeout``."""
        sync = self.durability is Durability.STRICT
        submit_then: SubmitThen | None = getattr(store, "submit_then", None)
        if submit_then is None:
            fut = await store.submit(ops, sync=sync)
            if not fut.done():
                try:
                    async with asyncio.timeout(self.write_timeout):
                        await asyncio.shield(fut)
                except TimeoutError:
                    raise self._timed_out() from None
            fut.result()
            return
        outcome: list[BaseException | None] = []
        waiter = self.watch.waiter()

        def then(error: BaseException | None) -> None:
            outcome.append(error)
            if not waiter.done():
                waiter.set_result(True)

        try:
            await submit_then(ops, then, sync=sync)
            await waiter
        finally:
            self.watch.forget(waiter)
        if not outcome:
            raise self._timed_out()
        if outcome[0] is not None:
            raise outcome[0]

    def _timed_out(self) -> StoreTimeout:
        return StoreTimeout(f"a write was not committed within {self.write_timeout}s")

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
            await self.store.submit(
                [DeleteItem(self.index_namespace, ACTIVE_COLLECTION, workflow_id)]
            )
            return None
        await run.claim()
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
        await self.store.submit([DeleteItem(self.index_namespace, ACTIVE_COLLECTION, workflow_id)])
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

    async def fenced(self, run: Run) -> None:
        """The run's write was rejected: someone else (a cancellation) owns the workflow.
        Its waiters get what the store says now."""
        self.counts["fenced"] += 1
        record = await self.store.read(run.namespace, META)
        if record is not None:
            try:
                meta = decode_meta(record.data, run.id)
            except CorruptState:
                return  # (quarantined when something reads it next)
            run.meta = meta
            if meta.status.finished:
                self.resolve(run.id, meta, None)

    def fault(self, run: Run | None, fault: EngineFault, workflow_id: str = "") -> None:
        """A store failure under a run: crash the engine actor, which resumes everything.
        (Partitioned: only the run ends; the next discovery loads it again.)"""
        self.counts["faults"] += 1
        if run is not None and self.ownership is not None:
            return
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
