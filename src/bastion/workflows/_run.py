"""One workflow run: its loaded history, its fenced writes, and its life from start to end.

A run re-executes the workflow function from the top; the context answers recorded
step numbers from :attr:`Run.history` and records new ones with :meth:`Run.write`, one
atomic batch per step that also bumps the ``fence`` record by compare-and-set. A
cancellation bumps the fence unconditionally, so a write the run makes afterwards (a
step that finished after it was cancelled) is rejected whole; the run then ends
without touching the workflow again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from bastion._core import _event_names, _events
from bastion.persistence import (
    DeleteItem,
    Durability,
    Op,
    Put,
    StoreError,
    StoreTimeout,
    VersionConflict,
    WriteResult,
)
from bastion.telemetry import _hooks
from bastion.workflows._context import WorkflowContext
from bastion.workflows._current import CURRENT
from bastion.workflows._definitions import WorkflowDefinition
from bastion.workflows._errors import WorkflowTimedOut
from bastion.workflows._records import (
    ACTIVE_COLLECTION,
    FENCE,
    INDEX_NAMESPACE,
    META,
    NULL,
    Meta,
    StepRecord,
    WorkflowStatus,
    encode,
)

if TYPE_CHECKING:
    from bastion.workflows._core import EngineCore

__all__ = ["EngineFault", "Fenced", "Run"]


class Fenced(BaseException):
    """The run's write was rejected by the fence: the workflow is no longer this run's.

    A ``BaseException`` so that workflow code catching ``Exception`` cannot swallow it.
    """


class EngineFault(BaseException):
    """The store failed under the run; the engine actor crashes and resumes the work."""


_WORKFLOW_SPAN = _event_names.DURABLE_WORKFLOW


class Run:
    """The in-memory state of one active workflow while an engine runs it."""

    __slots__ = (
        "args",
        "context",
        "core",
        "definition",
        "fence",
        "history",
        "id",
        "inbox",
        "kwargs",
        "last_write",
        "meta",
        "namespace",
        "next_no",
        "pending_ops",
        "task",
        "waiters",
    )

    def __init__(
        self,
        core: EngineCore,
        workflow_id: str,
        namespace: str,
        definition: WorkflowDefinition,
        meta: Meta,
        fence: int,
        history: dict[int, StepRecord],
        inbox: dict[str, dict[str, bytes]],
        args: Sequence[Any],
        kwargs: dict[str, Any],
    ) -> None:
        self.core = core
        self.id = workflow_id
        self.namespace = namespace
        self.definition = definition
        self.meta = meta
        self.fence = fence
        self.history = history
        self.inbox = inbox
        self.args = args
        self.kwargs = kwargs
        self.next_no = 0
        self.pending_ops: list[Op] = []
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.last_write: asyncio.Future[WriteResult] | None = None
        self.task: asyncio.Task[None] | None = None
        self.context = WorkflowContext(self)

    # -- writes ---------------------------------------------------------------------------
    async def write(self, ops: list[Op], *, wait: bool = True) -> None:
        """Commit ``ops`` with the fence check, in one batch; Fenced if it was bumped.

        ``wait=False`` (a step's result): return once submitted; the next step waits
        for the commit before it runs (:meth:`settle`), and so does every later write
        (batches commit in order), so nothing starts before its predecessor is durable.
        """
        core = self.core
        if self.pending_ops:
            ops = [*self.pending_ops, *ops]
            self.pending_ops = []
        ops.append(Put(self.namespace, FENCE, b"", self.fence))
        self.fence += 1
        self._raise_failed_write()
        previous = self.last_write
        try:
            fut = await core.store.submit(ops, sync=core.durability is Durability.STRICT)
        except StoreError as exc:
            raise EngineFault(exc) from exc
        if fut.done():  # (a memory store, or a store that committed at once)
            self.last_write = None
            self._check_done(previous)
            self._check(fut.exception())
            return
        self.last_write = fut
        fut.add_done_callback(_retrieve)
        if wait and core.durability is not Durability.MEMORY:
            await self._wait(fut)
            self._check_done(previous)

    async def settle(self) -> None:
        """Wait until this run's last write is committed (before a step runs)."""
        last = self.last_write
        if last is not None and self.core.durability is not Durability.MEMORY:
            if not last.done():
                await self._wait(last)
            self._check_done(last)

    def _check_done(self, fut: asyncio.Future[WriteResult] | None) -> None:
        if fut is not None and fut.done() and not fut.cancelled():
            self._check(fut.exception())

    async def claim(self) -> None:
        """Bump the fence without waiting for the commit: a stale run's next write fails;
        this run's next write, applied after it, still checks it."""
        put = Put(self.namespace, FENCE, b"", self.fence)
        self.fence += 1
        try:
            fut = await self.core.store.submit([put])
        except StoreError as exc:
            raise EngineFault(exc) from exc
        if fut.done():
            self._check(fut.exception())
        else:
            self.last_write = fut
            fut.add_done_callback(_retrieve)

    def _raise_failed_write(self) -> None:
        last = self.last_write
        if last is not None and last.done() and not last.cancelled():
            self._check(last.exception())

    def _check(self, error: BaseException | None) -> None:
        if isinstance(error, VersionConflict):
            raise Fenced(self.id) from error
        if error is not None:
            raise EngineFault(error) from error

    async def _wait(self, fut: asyncio.Future[WriteResult]) -> None:
        limit = self.core.write_timeout
        try:
            async with asyncio.timeout(limit):
                await asyncio.shield(fut)
        except TimeoutError:
            error = StoreTimeout(f"{self.namespace}: write not committed within {limit}s")
            raise EngineFault(error) from None
        except (VersionConflict, StoreError) as exc:
            self._check(exc)

    def record(self, step_no: int, step: StepRecord) -> Any:
        """Keep ``step`` as the history of ``step_no``; the op that stores it."""
        self.history[step_no] = step
        return self.core.step_op(self.namespace, step_no, step)

    # -- life -----------------------------------------------------------------------------
    async def execute(self) -> None:
        """Run the workflow function to its end (or until cancelled or fenced)."""
        CURRENT.set(self.context)
        meta = {"workflow": self.definition.name, "workflow_id": self.id}
        try:
            traced = _events.listened(self.core.span_events)
            with _events.span(_WORKFLOW_SPAN, meta) if traced else contextlib.nullcontext():
                await self._run_to_end()
        except Fenced:
            await self.core.fenced(self)
        except EngineFault as fault:
            self.core.fault(self, fault)

    async def _run_to_end(self) -> None:
        deadline = self.meta.deadline
        try:
            if deadline is None:
                value = await self.definition.fn(self.context, *self.args, **self.kwargs)
            else:
                loop = asyncio.get_running_loop()
                when = loop.time() + (deadline - self.core.wall())
                async with asyncio.timeout_at(when):
                    value = await self.definition.fn(self.context, *self.args, **self.kwargs)
        except TimeoutError as exc:
            if deadline is not None and self.core.wall() >= deadline - 1e-6:
                limit = deadline - self.meta.created_at
                timed_out = WorkflowTimedOut(f"workflow {self.id!r} ran past its {limit:g}s")
                await self.finish(WorkflowStatus.FAILED, error=timed_out)
            else:
                await self.finish(WorkflowStatus.FAILED, error=exc)
        except (Fenced, EngineFault, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001 -- the workflow's failure is its recorded outcome
            await self.finish(WorkflowStatus.FAILED, error=exc)
        else:
            await self.finish(WorkflowStatus.COMPLETED, value=value)

    async def finish(
        self, status: WorkflowStatus, *, value: Any = None, error: BaseException | None = None
    ) -> None:
        """Record the final status and result (or error) and leave the active index."""
        core = self.core
        result = NULL
        if error is None:
            try:
                result = msgspec.Raw(core.codec.encode(value))
            except (TypeError, ValueError) as exc:  # UnsupportedType / UnstorableValue
                status, error = WorkflowStatus.FAILED, exc
        meta = msgspec.structs.replace(
            self.meta,
            status=status,
            updated_at=core.wall(),
            result=result,
            error=None if error is None else f"{type(error).__name__}: {error}",
            error_type=None if error is None else type(error).__name__,
        )
        await self.write(
            [
                Put(self.namespace, META, encode(meta)),
                DeleteItem(INDEX_NAMESPACE, ACTIVE_COLLECTION, self.id),
            ]
        )
        self.meta = meta
        _hooks.count("bastion_workflows", self.definition.name, status.value)
        core.finished(self, error)


def _retrieve(fut: asyncio.Future[WriteResult]) -> None:
    """Mark an unawaited write's error as seen (the run's next write raises it)."""
    if not fut.cancelled():
        fut.exception()
