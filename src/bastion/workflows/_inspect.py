"""Reading and steering stored workflows without a running engine: ``inspect(store)``.

The CLI and the console use this over a store file; :class:`WorkflowEngine` uses the
same object for its read API. Cancelling here fences a run of another process (its
next write is rejected); resuming or forking here makes the workflow active again, and
the next engine opened on the store runs it.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import msgspec

from bastion._core import _event_names, _events
from bastion.agents._errors import UnknownWorkflow
from bastion.persistence import (
    Codec,
    CorruptState,
    DeleteItem,
    NamespaceData,
    Op,
    Put,
    PutItem,
    StateStore,
    VersionConflict,
    default_codec,
)
from bastion.workflows._errors import CorruptWorkflow, WorkflowFinished
from bastion.workflows._records import (
    ACTIVE_COLLECTION,
    FENCE,
    INDEX_NAMESPACE,
    INPUT,
    META,
    NAMESPACE_PREFIX,
    STEPS,
    Meta,
    StepKind,
    StepRecord,
    StepStatus,
    WorkflowStatus,
    decode_meta,
    decode_step,
    encode,
    namespace_of,
    step_key,
    workflow_id_of,
)

__all__ = ["StepInfo", "WorkflowInfo", "WorkflowStore", "info_json", "inspect"]


@dataclass(frozen=True, slots=True)
class WorkflowInfo:
    """One stored workflow (``result`` is decoded; ``error`` is ``"Type: message"``)."""

    id: str
    name: str
    version: str
    status: WorkflowStatus
    created_at: float
    updated_at: float
    deadline: float | None
    result: Any
    error: str | None
    error_type: str | None
    forked_from: str | None


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One recorded step number of a workflow."""

    step_no: int
    name: str
    kind: StepKind
    status: StepStatus
    result: Any
    error: str | None
    error_type: str | None
    attempts: int
    not_before: float | None
    started_at: float | None
    finished_at: float | None


def info_json(info: WorkflowInfo | StepInfo) -> dict[str, Any]:
    """``info`` as JSON-ready builtins (enums as their value; ``result`` as builtins, what
    JSON cannot hold as its ``repr``): the console API's and ``bastion workflows --json``'s
    shape of a workflow or a step."""
    data = asdict(info)
    for key in ("status", "kind"):
        if key in data:
            data[key] = str(data[key])
    data["result"] = msgspec.to_builtins(data["result"], str_keys=True, enc_hook=repr)
    return data


def inspect(store: StateStore, *, codec: Codec | None = None) -> WorkflowStore:
    """The stored workflows of ``store`` (no engine needed)."""
    return WorkflowStore(store, codec=codec)


class WorkflowStore:
    """List, read, cancel, resume and fork the workflows stored in one store."""

    def __init__(
        self,
        store: StateStore,
        *,
        codec: Codec | None = None,
        wall: Callable[[], float] = time.time,
        index_namespace: str = INDEX_NAMESPACE,
    ) -> None:
        """``codec`` decodes results (default: the default codec); ``index_namespace``:
        the list of active workflows that cancelling and resuming update."""
        self.store = store
        self.index_namespace = index_namespace
        self.codec = codec if codec is not None else default_codec()
        self._wall = wall

    # -- reading ---------------------------------------------------------------------------
    async def list(
        self,
        *,
        status: WorkflowStatus | str | None = None,
        name: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        limit: int | None = None,
    ) -> builtins.list[WorkflowInfo]:
        """Stored workflows (finished ones included), oldest first, filtered.

        ``status``/``name`` match exactly; ``created_after``/``created_before`` are
        epoch seconds. Corrupt workflows are quarantined and left out.
        """
        wanted = None if status is None else WorkflowStatus(status)
        if limit is not None and (isinstance(limit, bool) or limit < 0):
            raise ValueError(f"limit must be an int >= 0, got {limit!r}")
        found: list[WorkflowInfo] = []
        for namespace in await self.store.namespaces(NAMESPACE_PREFIX):
            workflow_id = workflow_id_of(namespace)
            record = await self.store.read(namespace, META)
            if record is None:
                continue
            try:
                info = self._info(workflow_id, decode_meta(record.data, workflow_id))
            except CorruptState as exc:
                await self._quarantine(workflow_id, exc)
                continue
            if wanted is not None and info.status is not wanted:
                continue
            if name is not None and info.name != name:
                continue
            if created_after is not None and info.created_at < created_after:
                continue
            if created_before is not None and info.created_at > created_before:
                continue
            found.append(info)
        found.sort(key=lambda i: (i.created_at, i.id))
        return found if limit is None else found[:limit]

    async def get(self, workflow_id: str) -> WorkflowInfo:
        """One workflow; UnknownWorkflow if there is none, CorruptWorkflow if it is damaged."""
        return self._info(workflow_id, await self._meta(workflow_id))

    async def steps(self, workflow_id: str) -> builtins.list[StepInfo]:
        """The recorded steps of a workflow, by step number."""
        data = await self._data(workflow_id)
        return [self._step(workflow_id, key, raw) for key, raw in data.collections.get(STEPS, [])]

    # -- steering --------------------------------------------------------------------------
    async def cancel(self, workflow_id: str) -> WorkflowInfo:
        """Mark the workflow cancelled and bump its fence (a running step's result is
        then rejected). Cancelling a finished workflow changes nothing."""
        namespace = namespace_of(workflow_id)
        while True:  # compare-and-set on the meta record: never overwrite a final status
            version, meta = await self._versioned_meta(workflow_id)
            if meta.status.finished:
                return self._info(workflow_id, meta)
            meta = msgspec.structs.replace(
                meta, status=WorkflowStatus.CANCELLED, updated_at=self._wall(), error="cancelled"
            )
            ops: list[Op] = [
                Put(namespace, META, encode(meta), expected_version=version),
                Put(namespace, FENCE, b""),  # unconditional: fences the running run
                DeleteItem(self.index_namespace, ACTIVE_COLLECTION, workflow_id),
            ]
            try:
                await self.store.write(ops)
            except VersionConflict:
                continue  # it changed meanwhile (finished?): look again
            return self._info(workflow_id, meta)

    async def resume(self, workflow_id: str) -> WorkflowInfo:
        """Make a cancelled or failed workflow active again, from its recorded steps.

        A step recorded as failed runs again (all its attempts); the deadline is
        dropped. An engine on this store runs it (at once if it is this process's). A
        running workflow is left alone; a completed one raises WorkflowFinished (fork it).
        """
        data = await self._data(workflow_id)
        meta = self._decode_meta(workflow_id, data)
        if meta.status is WorkflowStatus.RUNNING:
            return self._info(workflow_id, meta)
        if meta.status is WorkflowStatus.COMPLETED:
            raise WorkflowFinished(f"workflow {workflow_id!r} completed; fork it to run it again")
        namespace = namespace_of(workflow_id)
        ops: list[Op] = []
        for key, raw in data.collections.get(STEPS, []):
            if self._record(workflow_id, key, raw).status is StepStatus.FAILED:
                ops.append(DeleteItem(namespace, STEPS, key))
        meta = Meta(
            name=meta.name,
            version=meta.version,
            status=WorkflowStatus.RUNNING,
            created_at=meta.created_at,
            updated_at=self._wall(),
            forked_from=meta.forked_from,
        )
        ops += [
            Put(namespace, META, encode(meta), expected_version=data.records[META].version),
            Put(namespace, FENCE, b""),
            PutItem(self.index_namespace, ACTIVE_COLLECTION, workflow_id, meta.name.encode()),
        ]
        await self.store.write(ops)
        return self._info(workflow_id, meta)

    async def fork(self, workflow_id: str, *, from_step: int, new_id: str) -> WorkflowInfo:
        """A new workflow ``new_id`` with the same input and the steps before ``from_step``.

        Recorded steps ``0 .. from_step - 1`` are copied (they are not run again);
        from ``from_step`` on, the new workflow runs the code afresh.
        """
        if isinstance(from_step, bool) or not isinstance(from_step, int) or from_step < 0:
            raise ValueError(f"from_step must be an int >= 0, got {from_step!r}")
        check_workflow_id(new_id)
        data = await self._data(workflow_id)
        meta = self._decode_meta(workflow_id, data)
        stored_input = data.records.get(INPUT)
        if stored_input is None:
            raise CorruptWorkflow(f"workflow {workflow_id!r} has no input record")
        now = self._wall()
        forked = Meta(
            name=meta.name,
            version=meta.version,
            status=WorkflowStatus.RUNNING,
            created_at=now,
            updated_at=now,
            forked_from=workflow_id,
        )
        target = namespace_of(new_id)
        ops: list[Op] = [
            Put(target, META, encode(forked), expected_version=0),
            Put(target, INPUT, stored_input.data),
            Put(target, FENCE, b""),
            PutItem(self.index_namespace, ACTIVE_COLLECTION, new_id, meta.name.encode()),
        ]
        for key, raw in data.collections.get(STEPS, []):
            rec = self._record(workflow_id, key, raw)
            if int(key) < from_step and rec.status is StepStatus.COMPLETED:
                copied = encode(msgspec.structs.replace(rec, seq=0))  # (another fence's order)
                ops.append(PutItem(target, STEPS, step_key(int(key)), copied))
        await self.store.write(ops)
        return self._info(new_id, forked)

    # -- helpers ---------------------------------------------------------------------------
    async def _data(self, workflow_id: str) -> NamespaceData:
        check_workflow_id(workflow_id)
        data = await self.store.load(namespace_of(workflow_id))
        if META not in data.records:
            raise await self._missing(workflow_id)
        return data

    async def _meta(self, workflow_id: str) -> Meta:
        return (await self._versioned_meta(workflow_id))[1]

    async def _versioned_meta(self, workflow_id: str) -> tuple[int, Meta]:
        check_workflow_id(workflow_id)
        record = await self.store.read(namespace_of(workflow_id), META)
        if record is None:
            raise await self._missing(workflow_id)
        try:
            return record.version, decode_meta(record.data, workflow_id)
        except CorruptState as exc:
            raise await self._quarantine(workflow_id, exc) from exc

    async def _missing(self, workflow_id: str) -> UnknownWorkflow | CorruptWorkflow:
        namespace = namespace_of(workflow_id)
        for entry in await self.store.quarantined(namespace):
            if entry.namespace == namespace:
                return CorruptWorkflow(
                    f"workflow {workflow_id!r} was quarantined: {entry.reason}",
                    context={"workflow_id": workflow_id},
                )
        return UnknownWorkflow(f"no workflow {workflow_id!r}")

    def _decode_meta(self, workflow_id: str, data: NamespaceData) -> Meta:
        return decode_meta(data.records[META].data, workflow_id)

    def _record(self, workflow_id: str, key: str, raw: bytes) -> StepRecord:
        return decode_step(raw, workflow_id, key)

    def _info(self, workflow_id: str, meta: Meta) -> WorkflowInfo:
        return WorkflowInfo(
            id=workflow_id,
            name=meta.name,
            version=meta.version,
            status=meta.status,
            created_at=meta.created_at,
            updated_at=meta.updated_at,
            deadline=meta.deadline,
            result=self.codec.decode(bytes(meta.result)),
            error=meta.error,
            error_type=meta.error_type,
            forked_from=meta.forked_from,
        )

    def _step(self, workflow_id: str, key: str, raw: bytes) -> StepInfo:
        rec = decode_step(raw, workflow_id, key)
        return StepInfo(
            step_no=int(key),
            name=rec.name,
            kind=rec.kind,
            status=rec.status,
            result=self.codec.decode(bytes(rec.result)),
            error=rec.error,
            error_type=rec.error_type,
            attempts=rec.attempts,
            not_before=rec.not_before,
            started_at=rec.started_at,
            finished_at=rec.finished_at,
        )

    async def _quarantine(self, workflow_id: str, exc: CorruptState) -> CorruptWorkflow:
        namespace = namespace_of(workflow_id)
        entry = await self.store.quarantine(namespace, f"{type(exc).__name__}: {exc}")
        await self.store.write([DeleteItem(self.index_namespace, ACTIVE_COLLECTION, workflow_id)])
        _events.emit(
            _event_names.DURABLE_WORKFLOW_QUARANTINED,
            {"records": entry.records, "items": entry.items},
            {"workflow_id": workflow_id, "namespace": namespace, "error": exc},
        )
        return CorruptWorkflow(
            f"workflow {workflow_id!r}: stored data did not decode and was quarantined: {exc}",
            context={"workflow_id": workflow_id},
        )


def check_workflow_id(workflow_id: object) -> str:
    """``workflow_id`` if it is a valid id (TypeError/ValueError otherwise)."""
    if not isinstance(workflow_id, str):
        raise TypeError(f"a workflow id must be a string, got {workflow_id!r}")
    if not workflow_id or "\x00" in workflow_id or len(workflow_id) > 256:
        raise ValueError(f"a workflow id must be 1-256 characters without NUL, got {workflow_id!r}")
    return workflow_id
