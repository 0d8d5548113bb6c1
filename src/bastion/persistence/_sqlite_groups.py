"""Group commit of the SQLite store: queued batches, one commit per loop turn, replies in one pass.

:class:`GroupCommit` holds the batches submitted to a
:class:`~bastion.persistence._sqlite.SQLiteStore` until a *flush* takes all of them (from
any number of agents) as one group: planned on the event loop in submission order, then
committed as one short transaction, on the loop (``writer="loop"``) or by the writer
process (``writer="process"``, :class:`~bastion.persistence._sqlite_proc.ProcessLink`)
or the writer thread (``writer="thread"``,
:class:`~bastion.persistence._sqlite_thread.ThreadLink`, driven like the process).

* **When.** A batch someone waits for schedules a flush on the next loop turn: every
  batch submitted until then, by any agent, shares that commit — under load, one commit
  per turn of the loop however many acknowledgements it carries. A deferred batch
  (nobody waits) is committed within ``flush_interval``; any backlog past
  ``max_pending_ops`` at once. With the writer process, a flush while a group is in
  flight waits for its ack, and the next group takes everything submitted meanwhile.
* **Replies in one pass.** When a group commits, its futures are resolved in submission
  order in one loop over the group, and a batch submitted with a callback
  (:meth:`SQLiteStore.submit_then`) has it called right there: an acknowledged action's
  reply leaves with the commit, not one loop turn later through a future's callback.
  Write latency is timed in the same pass (no callback per write).
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bastion.persistence import _sqlite_schema as schema
from bastion.persistence._errors import StoreError, StoreTimeout, VersionConflict
from bastion.persistence._protocol import DeleteItem, PutItem
from bastion.persistence._sqlite_proc import ProcessLink
from bastion.persistence._sqlite_thread import ThreadLink
from bastion.persistence._sqlite_writer import MAX_CACHED, Job, Plan, Writer, store_error
from bastion.telemetry import _hooks

__all__ = ["GroupCommit", "Result"]

_ITEM_OPS = (PutItem, DeleteItem)
_STORE = "sqlite"
_DATA_VERSION = "PRAGMA data_version"

Result = tuple[Job, Any, BaseException | None]


class GroupCommit:
    """The queue of write batches of one SQLite store and the commits that empty it."""

    def __init__(
        self,
        writer: Writer,
        link: ProcessLink | ThreadLink | None,
        *,
        max_pending: int,
        interval: float,
        timeout: float,
    ) -> None:
        self.writer = writer
        self.link = link
        self.executor: ThreadPoolExecutor | None = None  # helper thread (loop writer)
        self.pending_ops = 0
        self.conflicts = 0
        self._max_pending = max_pending
        self._interval = interval
        self._timeout = timeout
        self._queued: list[Job] = []
        self._soon: asyncio.Handle | None = None
        self._later: asyncio.TimerHandle | None = None
        self._urgent = False  # a queued batch (or a read, a close) waits for the commit
        self._flight: collections.deque[Plan] = collections.deque()  # sent, not acked
        self._helpers: set[asyncio.Future[Any]] = set()
        self._checkpointing, self._since_checkpoint = False, 0
        self._data_version: int | None = None
        self._version_fresh = False  # data_version was read in this very callback
        self._meters: tuple[Any, Any] | None = None
        self._metered = False  # _meters looked up for the group being collected

    def add(self, job: Job, *, defer: bool) -> None:
        """Queue ``job`` for the next group (``defer``: nobody waits for it now)."""
        self._queued.append(job)
        self.pending_ops += job.size
        if not self._metered:  # looked up once per group, not per batch
            self._meters, self._metered = _hooks.write_meters(_STORE), True
        meters = self._meters
        if meters is not None:
            meters[0].set(self.pending_ops)
            job.submitted = time.perf_counter()
        if not defer:
            self._urgent = True
        if self.pending_ops >= self._max_pending:
            self.flush()
        elif not defer:
            if self._soon is None:
                self._soon = asyncio.get_running_loop().call_soon(self._flush_soon)
        elif self._soon is None and self._later is None:
            self._later = asyncio.get_running_loop().call_later(self._interval, self.flush)

    def flush_now(self) -> None:
        """Commit (or send) everything queued now: a read, a close waits for it."""
        self._urgent = True
        self.flush()

    def _flush_soon(self) -> None:
        self._soon = None  # running now: nothing to cancel
        self.flush()

    def flush(self) -> None:
        """Take every queued batch as one group and commit it (or send it)."""
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if not self._queued:
            return
        link = self.link
        if link is not None and link.in_flight and self.pending_ops < self._max_pending:
            return  # group commit: the commit in flight collects the next group (_acked)
        jobs, self._queued = self._queued, []
        self.pending_ops = 0  # every queued job is in this group
        self._metered = False
        self._urgent = False
        _hooks.group_committed(len(jobs), _STORE)
        if link is not None:
            self._send(jobs)
        else:
            self._commit_here(jobs)

    def untouched(self, key: tuple[str, str, str]) -> bool:
        """Whether no queued or in-flight batch writes or deletes item ``key``."""
        for plan in self._flight:
            if key in plan.item_puts or key in plan.item_dels:
                return False
        ns, coll, item = key
        for job in self._queued:
            for op in job.ops:
                if (
                    type(op) in _ITEM_OPS
                    and op.item == item  # type: ignore[union-attr]
                    and op.collection == coll  # type: ignore[union-attr]
                    and op.namespace == ns
                ):
                    return False
        return True

    async def drain(self) -> None:
        """Wait until the writer process acknowledged every group sent."""
        assert self.link is not None
        try:
            await self.link.drain(self._timeout)
        except TimeoutError:
            raise StoreTimeout(f"sqlite store operation exceeded {self._timeout}s") from None

    def wrote_elsewhere(self) -> None:
        """The file was written outside the groups (``drop``...): note its data version."""
        self._data_version = self._read_data_version()

    async def stop_helpers(self) -> None:
        """Wait for the running fsyncs and maintenance rounds of the helper thread."""
        while self._helpers:
            await asyncio.gather(*self._helpers, return_exceptions=True)

    # -- the loop writer ----------------------------------------------------------------

    def _commit_here(self, jobs: list[Job]) -> None:
        results = self.writer.commit(jobs)
        synced = [(job, value) for job, value, error in results if error is None and job.sync]
        if synced:
            self._resolve([r for r in results if r[2] is not None or not r[0].sync])
            self._start_helper(self.writer.sync_wal, lambda f: self._synced(f, synced))
        else:
            self._resolve(results)
        self._since_checkpoint += 1
        if self._since_checkpoint >= schema.CHECKPOINT_EVERY and not self._checkpointing:
            self._since_checkpoint = 0
            self._checkpointing = True
            self._start_helper(_hooks.timed_checkpoint(self.writer.checkpoint), self._checkpointed)

    def _start_helper(
        self, fn: Callable[[], Any], done: Callable[[asyncio.Future[Any]], None]
    ) -> None:
        assert self.executor is not None
        fut = asyncio.get_running_loop().run_in_executor(self.executor, fn)
        self._helpers.add(fut)
        fut.add_done_callback(self._helpers.discard)
        fut.add_done_callback(done)

    def _checkpointed(self, fut: asyncio.Future[Any]) -> None:
        self._checkpointing = False
        if not fut.cancelled():
            fut.exception()  # a failed checkpoint is retried after the next commits

    def _synced(self, fut: asyncio.Future[Any], synced: list[tuple[Job, Any]]) -> None:
        error = None if fut.cancelled() else fut.exception()
        if fut.cancelled() or error is not None:
            err = StoreError(f"fsync of the WAL failed: {error!r}")
            self._resolve([(job, None, err) for job, _ in synced])
        else:
            self._resolve([(job, value, None) for job, value in synced])

    # -- the writer process -------------------------------------------------------------

    def _read_data_version(self) -> int:
        return int(self.writer.connection().execute(_DATA_VERSION).fetchone()[0])

    def _send(self, jobs: list[Job]) -> None:
        """Plan ``jobs`` here, send the plan to the writer process, resolve on its ack."""
        link, writer = self.link, self.writer
        assert link is not None
        if link.broken is not None:
            self._resolve([(job, None, link.broken) for job in jobs])
            return
        try:
            if not link.in_flight and not self._version_fresh:  # only then can a changed
                data_version = self._read_data_version()  # file mean another writer
                if data_version != self._data_version or writer.cached_versions() > MAX_CACHED:
                    writer.forget_versions()
                    self._data_version = data_version
            self._version_fresh = False
            plan, results = writer.plan(writer.connection(), jobs)
        except sqlite3.Error as exc:
            writer.forget_versions()
            self._resolve([(job, None, store_error(exc)) for job in jobs])
            return
        if all(error is not None for _, _, error in results):
            self._resolve(results)  # nothing to commit
            return
        # A batch refused in planning is answered with the group, in submission order:
        # replies leave in the order of their writes, as with the loop writer.
        sync = any(job.sync for job, _, error in results if error is None)
        self._flight.append(plan)
        link.send(plan, sync, lambda status, text: self._acked(results, status, text))

    def _acked(self, results: list[Result], status: int, text: str) -> None:
        assert self.link is not None
        self._flight.popleft()
        if status == 0:
            self._resolve(results)
        else:
            self.writer.forget_versions()
            error: StoreError = (
                VersionConflict(f"sqlite: {text}") if status == 1 else StoreError(text)
            )
            self._resolve([(job, None, err or error) for job, _, err in results])
        if not self.link.in_flight and self.link.broken is None:
            try:  # absorb our own commits' change
                self._data_version = self._read_data_version()
                self._version_fresh = True  # for the group sent right now, if any
            except sqlite3.Error:
                pass
            if self._urgent or self.pending_ops >= self._max_pending:
                self.flush()  # what queued up while the commit was in flight: the next group
            elif self._queued and self._soon is None and self._later is None:
                # nobody waits: let it grow for flush_interval
                loop = asyncio.get_running_loop()
                self._later = loop.call_later(self._interval, self.flush)
            self._version_fresh = False

    # -- replies ------------------------------------------------------------------------

    def _resolve(self, results: Sequence[Result]) -> None:
        """Resolve a group's futures in submission order, call their callbacks, time them."""
        meters = _hooks.write_meters(_STORE)
        now = time.perf_counter()
        for job, value, error in results:
            future = job.future
            if future.done():  # cancelled by its waiter: the callback still hears of it
                if job.then is not None:
                    job.then(StoreError("write cancelled") if future.cancelled() else error)
                continue
            if error is None:
                future.set_result(value)
            else:
                self.conflicts += isinstance(error, VersionConflict)
                future.set_exception(error)
            if meters is not None and job.submitted:
                meters[1].record(now - job.submitted)
            if job.then is not None:
                if error is not None:
                    future.exception()  # handed to ``then``: not an unretrieved exception
                job.then(error)
