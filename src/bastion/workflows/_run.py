"""One workflow run: its loaded history, its fenced writes, and its life from start to end.

A run re-executes the workflow function from the top; the context answers recorded
step numbers from :attr:`Run.history` and records new ones with :meth:`Run.write`, one
atomic batch per step that also bumps the ``fence`` record by compare-and-set. A
cancellation bumps the fence unconditionally, so a write the run makes afterwards (a
step that finished after it was cancelled) is rejected whole; the run then ends
without touching the workflow again.

Steps may run on tasks of their own (``asyncio.gather`` of steps: the branches of a
DAG). Such a step registers its task in :attr:`Run.branches`; when the run ends
(finished, failed, fenced, cancelled) the branches still running are cancelled, before
the final record is written: a workflow that failed on one branch does not leave the
others running, nor recording results into a finished workflow.
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
    META,
    NULL,
    Meta,
    StepRecord,
    WorkflowStatus,
    encode,
)
from bastion.workflows._replay import ReplayOrder

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
#: Branch tasks kept before the finished ones are dropped (a workflow that gathers steps
#: in a loop does not grow the set without bound).
_BRANCHES_KEPT = 64


class Run:
    """The in-memory state of one active workflow while an engine runs it."""

    __slots__ = (
        "_prune_at",
        "args",
        "branches",
        "commit_waiters",
        "committed",
        "context",
        "core",
        "definition",
        "failure",
        "fence",
        "history",
        "id",
        "inbox",
        "kwargs",
        "meta",
        "namespace",
        "next_no",
        "pending_ops",
        "replay",
        "submitted",
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
        #: the order of the loaded records, while the run replays them (None: no history)
        self.replay = ReplayOrder(history) if history else None
        self.inbox = inbox
        self.args = args
        self.kwargs = kwargs
        self.next_no = 0
        self.pending_ops: list[Op] = []
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.submitted = 0  # writes submitted ...
        self.committed = 0  # ... and settled, in order (committed or failed)
        self.failure: BaseException | None = None  # the first failed write's error
        self.commit_waiters: list[asyncio.Future[bool]] = []  # woken once all settled
        self.task: asyncio.Task[None] | None = None
        #: tasks other than the run's own that ran a step of it (see the module)
        self.branches: set[asyncio.Task[Any]] = set()
        self._prune_at = _BRANCHES_KEPT
        self.context = WorkflowContext(self)

    # -- writes ---------------------------------------------------------------------------
    async def write(self, ops: list[Op], *, wait: bool = True) -> None:
        """Commit ``ops`` with the fence check, in one batch; Fenced if it was bumped.

        ``wait=False`` (a step's result): return once submitted; the next step waits
        for the commit before it runs (:meth:`settle`), and so does every later write
        (batches commit in order), so nothing starts before its predecessor is durable.
        """
        if self.pending_ops:
            ops = [*self.pending_ops, *ops]
            self.pending_ops = []
        ops.append(Put(self.namespace, FENCE, b"", self.fence))
        self.fence += 1
        self._raise_failed_write()
        ordered = self.core.ordered_writes
        await self._submit(ops, defer=ordered)
        if wait and not ordered:
            await self.settle()

    async def before_step(self) -> None:
        """Wait until a step may run: the records before it are committed (an engine
        with ``ordered_writes``: submitted is enough, see EngineCore)."""
        if self.core.ordered_writes:
            if self.pending_ops:
                await self.write([], wait=False)  # a held step result goes first
            self._raise_failed_write()
        else:
            await self.settle()

    async def record_result(self, step_no: int, step: StepRecord) -> None:
        """Record a completed step: submitted now (the next step waits for its commit,
        see :meth:`write`); with ``ordered_writes`` and no branches, held until the
        next write, which a next step makes before it runs (:meth:`before_step`) and
        the finish makes anyway: one batch fewer per step."""
        op = self.record(step_no, step)
        if self.core.ordered_writes and not self.branches:
            self.pending_ops.append(op)
        else:
            await self.write([op], wait=False)

    async def settle(self) -> None:
        """Wait until every write of this run is committed (before a step runs).

        The writes report their commits in order (:meth:`_committed`), which wakes the
        waiters; a write not committed within the engine's ``write_timeout`` is a store
        failure (EngineFault).
        """
        if self.committed < self.submitted and self.core.durability is not Durability.MEMORY:
            watch = self.core.watch
            while self.committed < self.submitted and self.failure is None:
                waiter = watch.waiter()
                self.commit_waiters.append(waiter)
                try:
                    in_time = await waiter
                finally:
                    watch.forget(waiter)
                if not in_time:
                    text = f"{self.namespace}: write not committed within {watch.limit}s"
                    raise EngineFault(StoreTimeout(text))
        self._raise_failed_write()

    async def claim(self) -> None:
        """Bump the fence without waiting for the commit: a stale run's next write fails;
        this run's next write, applied after it, still checks it."""
        put = Put(self.namespace, FENCE, b"", self.fence)
        self.fence += 1
        await self._submit([put])

    async def _submit(self, ops: list[Op], *, defer: bool = False) -> None:
        """Submit one batch; its commit (or failure) is reported to :meth:`_committed`,
        in the pass that resolves its group where the store can (``submit_then``).
        ``defer``: nobody waits for it; it commits with the next group."""
        core = self.core
        sync = core.durability is Durability.STRICT
        try:
            if core.submit_then is not None and not defer:
                await core.submit_then(ops, self._committed, sync=sync)
                self.submitted += 1
                return
            fut = await core.store.submit(ops, sync=sync, defer=defer)
        except StoreError as exc:
            raise EngineFault(exc) from exc
        self.submitted += 1
        if fut.done():  # (a memory store, or a store that committed at once)
            self._committed_from(fut)
            self._raise_failed_write()
        else:
            fut.add_done_callback(self._committed_from)

    def _committed(self, error: BaseException | None) -> None:
        """One write of this run settled (in submission order); wake a waiter."""
        self.committed += 1
        if error is not None and self.failure is None:
            self.failure = error
        if error is not None or self.committed >= self.submitted:
            waiters = self.commit_waiters
            if waiters:
                self.commit_waiters = []
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(True)

    def _committed_from(self, fut: asyncio.Future[WriteResult]) -> None:
        self._committed(StoreError("write cancelled") if fut.cancelled() else fut.exception())

    def _raise_failed_write(self) -> None:
        error = self.failure
        if isinstance(error, VersionConflict):
            raise Fenced(self.id) from error
        if error is not None:
            raise EngineFault(error) from error

    def record(self, step_no: int, step: StepRecord) -> Any:
        """Keep ``step`` as the history of ``step_no``; the op that stores it (carrying
        the fence version of the write that takes it, the record's place in the order)."""
        step.seq = self.fence
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
        finally:
            self.stop_branches()

    def add_branch(self, task: asyncio.Task[Any]) -> None:
        """``task`` runs a step of this run (the run's end cancels it if it still runs)."""
        branches = self.branches
        if len(branches) >= self._prune_at:  # amortized: at most doubling between prunes
            self.branches = branches = {t for t in branches if not t.done()}
            self._prune_at = max(_BRANCHES_KEPT, 2 * len(branches))
        branches.add(task)

    def stop_branches(self) -> None:
        """Cancel the steps still running on tasks other than the run's (it ends)."""
        if self.branches:
            branches, self.branches = self.branches, set()
            for task in branches:
                task.cancel()

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
        self.stop_branches()  # before the final write: none records a result after it
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
                DeleteItem(core.index_namespace, ACTIVE_COLLECTION, self.id),
            ]
        )
        self.meta = meta
        _hooks.count("bastion_workflows", self.definition.name, status.value)
        core.finished(self, error)
