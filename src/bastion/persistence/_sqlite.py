"""The default :class:`StateStore`: one SQLite file in WAL mode, with group commits.

Every write batch is queued, and a *flush* takes all queued batches (from any number of
agents) as one group: the group is **planned on the event loop**, in submission order
(each batch's compare-and-set checked against a per-record version cache, a failing
batch rejected whole, only the last write of each row kept), then **committed** as one
short transaction by one of two writers:

* ``writer="loop"`` (the default): the statements and ``COMMIT`` run on the event loop
  itself (lowest latency for one acknowledged write, no second process); a helper
  thread runs maintenance and fsyncs.
* ``writer="process"`` (POSIX): a child process
  (:mod:`~bastion.persistence._writer_proc`, driven by
  :class:`~bastion.persistence._sqlite_proc.ProcessLink`) executes the planned
  statements off the loop's core and acknowledges each group; maintenance and fsyncs
  too. It pays where a spare core runs the child (see ``docs/persistence.md``).

A flush runs on the next loop turn for a batch someone waits for, within
``flush_interval`` (10 ms) for a deferred one, at once past ``max_pending_ops``; with
the writer process, a flush while a group is in flight waits for its ack (group commit).
Reads run in this process after every group before them is committed.

The file's schema, statements and identity checks live in
:mod:`~bastion.persistence._sqlite_schema`: a file that is not a Bastion state database
is never written to (:class:`NotAStateStore`), a damaged one is reported
(:class:`DamagedStore`), never silently re-initialised.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, Unpack

from bastion._core._durations import positive_seconds
from bastion.persistence import _sqlite_pages as pages
from bastion.persistence import _sqlite_schema as schema
from bastion.persistence._errors import StoreClosed, StoreError, StoreTimeout, VersionConflict
from bastion.persistence._paged import Cursor, NamespaceHead, PageRow
from bastion.persistence._protocol import (
    DeleteItem,
    NamespaceData,
    Op,
    PutItem,
    QuarantineEntry,
    Record,
    StoreStatistics,
    WriteResult,
)
from bastion.persistence._sqlite_options import PROCESS_WRITER_SUPPORTED, WriterKind
from bastion.persistence._sqlite_options import SQLiteStoreOptions as Options
from bastion.persistence._sqlite_proc import ProcessLink
from bastion.persistence._sqlite_queries import (
    drop_namespace,
    list_namespaces,
    list_quarantined,
    load_namespace,
    quarantine_namespace,
    read_item,
    read_record,
)
from bastion.persistence._sqlite_writer import MAX_CACHED, Job, Plan, Writer, store_error
from bastion.telemetry import _hooks

__all__ = ["SQLiteStore"]

_ITEM_OPS = (PutItem, DeleteItem)

T = TypeVar("T")


class SQLiteStore:
    """A durable store in one SQLite file; create it with ``await SQLiteStore.open(path)``.

    ``max_pending_ops`` bounds the operations queued for the writer; ``op_timeout`` is the
    deadline of every operation (:class:`StoreTimeout` on expiry). ``writer="process"``
    executes the planned groups in a child writer process instead of on the event loop
    (POSIX); the default (None) is ``"loop"``, chosen from measurements
    (``docs/persistence.md``, *The default writer*).
    ``path`` must name a file (``":memory:"`` and ``""`` are refused: use MemoryStore).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_pending_ops: int = 100_000,
        op_timeout: float = 30.0,
        flush_interval: float = 0.01,
        writer: WriterKind | None = None,
    ) -> None:
        if max_pending_ops < 1:
            raise ValueError("max_pending_ops must be >= 1")
        if writer is None:
            writer = "loop"
        if writer not in ("loop", "process"):
            raise ValueError(f"writer must be 'loop' or 'process', not {writer!r}")
        if writer == "process" and not PROCESS_WRITER_SUPPORTED:
            raise ValueError("writer='process' needs a POSIX system; use writer='loop'")
        for label, value in (("op_timeout", op_timeout), ("flush_interval", flush_interval)):
            positive_seconds(label, value)
        self.path = os.fspath(path)
        schema.refuse_in_memory(self.path)
        self._max_pending = max_pending_ops
        self._timeout = op_timeout
        self._interval = flush_interval
        self._writer = Writer(self.path)
        self._executor: ThreadPoolExecutor | None = None
        self._link = ProcessLink(self.path) if writer == "process" else None
        self._opened = False
        self._data_version: int | None = None
        self._version_fresh = False  # data_version was read in this very callback
        self._queued: list[Job] = []
        self._soon: asyncio.Handle | None = None
        self._urgent = False  # a queued batch (or a read, a close) waits for the commit
        self._flight: collections.deque[Plan] = collections.deque()  # sent, not acked
        self._later: asyncio.TimerHandle | None = None
        self._helpers: set[asyncio.Future[Any]] = set()
        self._checkpointing, self._since_checkpoint = False, 0
        self._pending_ops = 0
        self._closed = False
        self._batches = 0
        self._ops = 0
        self._conflicts = 0
        self._quarantined = 0

    @classmethod
    async def open(cls, path: str | os.PathLike[str], **options: Unpack[Options]) -> SQLiteStore:
        """Open (or create) the database and start the helper thread (or writer process).

        ``options`` are the constructor's (``max_pending_ops``, ``op_timeout``,
        ``flush_interval``, ``writer``; see the class), validated there, so they are
        written and checked in one place. A missing or empty file is initialised.
        Raises :class:`NotAStateStore` for a file that is not a Bastion state database
        (it is left untouched), :class:`DamagedStore` for one of ours with missing
        tables, :class:`StoreOpenError` for a path that cannot hold a database (a
        missing directory...), each with a one-line message.
        """
        store = cls(path, **options)
        store._opened = True
        try:
            if store._link is None:
                store._executor = ThreadPoolExecutor(1, thread_name_prefix="bastion-sqlite")
            await store._run(lambda conn: None)
            if store._link is not None:
                await store._link.start(store._timeout)
        except BaseException:
            await store.close()
            raise
        return store

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def backend(self) -> str:
        """``"sqlite"``."""
        return "sqlite"

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        """Queue a batch for a group commit; returns its future at once.

        ``defer=True``: nobody waits for it now, commit it within ``flush_interval``.
        """
        self._check_open()
        size = max(1, len(ops))
        job = Job(asyncio.get_running_loop().create_future(), ops, sync, size=size)
        self._queued.append(job)
        self._pending_ops += size
        self._batches += 1
        self._urgent = self._urgent or not defer
        _hooks.write_submitted(job.future, self._pending_ops, "sqlite")
        self._ops += len(ops)
        if self._pending_ops >= self._max_pending:
            self._flush()
        else:
            self._schedule(defer)
        return job.future

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        """Submit a batch and wait for its commit (``StoreTimeout`` after ``op_timeout``)."""
        return await self._await(await self.submit(ops, sync=sync))

    async def read(self, namespace: str, key: str) -> Record | None:
        """One record; sees every batch submitted before it."""
        return await self._run(lambda c: read_record(c, namespace, key))

    async def read_item(self, namespace: str, collection: str, item: str) -> bytes | None:
        """One collection item; sees every batch submitted before it. When no queued or
        in-flight batch touches the item, it is read at once (no commit to wait for)."""
        key = (namespace, collection, item)
        if self._untouched(key):
            self._check_open()
            data: bytes | None = self._writer.call(lambda c: read_item(c, *key))
            return data
        return await self._run(lambda c: read_item(c, namespace, collection, item))

    async def load(self, namespace: str) -> NamespaceData:
        """Everything under ``namespace``: one read transaction, items in key order."""
        return await self._run(lambda c: load_namespace(c, namespace))

    async def load_head(
        self,
        namespace: str,
        ordered: str,
        limit: int,
        *,
        shift: int = 0,
        skip: Collection[str] = (),
    ) -> NamespaceHead:
        """The start of a namespace (:class:`~bastion.persistence._paged.PagedLoad`)."""
        return await self._run(lambda c: pages.load_head(c, namespace, ordered, limit, shift, skip))

    async def load_page(
        self, namespace: str, collection: str, after: Cursor, limit: int
    ) -> list[PageRow]:
        """The next rows of an ordered collection (``PagedLoad``)."""
        return await self._run(lambda c: pages.load_page(c, namespace, collection, after, limit))

    async def load_items(
        self, namespace: str, collection: str, after: str, limit: int
    ) -> list[tuple[str, bytes]]:
        """The next items of a collection by key (``PagedLoad``)."""
        return await self._run(lambda c: pages.load_items(c, namespace, collection, after, limit))

    async def namespaces(self, prefix: str = "") -> list[str]:
        """Sorted namespaces starting with ``prefix``."""
        return await self._run(lambda c: list_namespaces(c, prefix))

    async def drop(self, namespace: str) -> None:
        """Delete everything under ``namespace``."""
        await self._run(lambda c: drop_namespace(c, namespace), writes=True)

    async def quarantine(self, namespace: str, reason: str) -> QuarantineEntry:
        """Move the namespace's rows into the quarantine tables."""
        now = time.time()
        self._quarantined += 1
        _hooks.count("bastion_persistence_quarantines", "sqlite")
        return await self._run(
            lambda c: quarantine_namespace(c, namespace, reason, now), writes=True
        )

    async def quarantined(self, prefix: str = "") -> list[QuarantineEntry]:
        """Quarantined namespaces, oldest first."""
        return await self._run(lambda c: list_quarantined(c, prefix))

    async def close(self) -> None:
        """Commit what is queued, wait for the helper thread, close the connections."""
        if self._closed:
            return
        self._urgent = True
        self._flush()
        self._closed = True
        if self._link is not None:
            try:
                await self._link.close(self._timeout)
            except TimeoutError:
                raise StoreTimeout(
                    f"the sqlite writer process did not stop within {self._timeout}s; killed"
                ) from None
            finally:
                self._writer.close()
        executor, self._executor = self._executor, None
        if executor is None:
            self._writer.close()
            return
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                while self._helpers:
                    await asyncio.gather(*self._helpers, return_exceptions=True)
                await loop.run_in_executor(executor, self._writer.close_helper)
                await loop.run_in_executor(executor, self._writer.close)
        except TimeoutError:
            raise StoreTimeout(f"the sqlite store did not close within {self._timeout}s") from None
        finally:
            executor.shutdown(wait=True)  # idle by now: returns at once

    @property
    def writer_pid(self) -> int | None:
        """The id of the writer process (``writer="process"``, while open), else None."""
        return None if self._link is None else self._link.pid

    def statistics(self) -> StoreStatistics:
        """Counters since :meth:`open` (``quarantined``: by this instance)."""
        w = self._writer
        return StoreStatistics(
            backend="sqlite",
            batches=self._batches,
            ops=self._ops,
            commits=w.commits if self._link is None else self._link.commits,
            conflicts=self._conflicts,
            pending_ops=self._pending_ops,
            max_group=w.max_group,
            quarantined=self._quarantined,
            closed=self._closed,
        )

    # -- loop side plumbing ----------------------------------------------------------

    def _check_open(self) -> None:
        if not self._opened or self._closed:
            raise StoreClosed(f"the sqlite store {self.path!r} is closed")

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, writes: bool = False) -> T:
        self._check_open()
        self._urgent = True  # it must see every batch submitted before it
        self._flush()
        if self._link is not None:
            await self._drain()
        result: T = self._writer.call(fn, writes=writes)
        if self._link is not None and writes:
            self._data_version = self._read_data_version()
        return result

    def _untouched(self, key: tuple[str, str, str]) -> bool:
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

    def _schedule(self, defer: bool) -> None:
        loop = asyncio.get_running_loop()
        if not defer:
            if self._soon is None:
                self._soon = loop.call_soon(self._flush)
        elif self._soon is None and self._later is None:
            self._later = loop.call_later(self._interval, self._flush)

    def _flush(self) -> None:
        for handle in (self._soon, self._later):
            if handle is not None:
                handle.cancel()
        self._soon = self._later = None
        if not self._queued:
            return
        link = self._link
        if link is not None and link.in_flight and self._pending_ops < self._max_pending:
            return  # group commit: the commit in flight collects the next group (_acked)
        jobs, self._queued = self._queued, []
        self._pending_ops = 0  # every queued job is in this group
        self._urgent = False
        _hooks.group_committed(len(jobs), "sqlite")
        if link is not None:
            self._send(jobs)
            return
        results = self._writer.commit(jobs)
        synced = [(job, value) for job, value, error in results if error is None and job.sync]
        if synced:
            self._resolve([r for r in results if r[2] is not None or not r[0].sync])
            self._start_helper(self._writer.sync_wal, lambda f: self._synced(f, synced))
        else:
            self._resolve(results)
        self._since_checkpoint += 1
        if self._since_checkpoint >= schema.CHECKPOINT_EVERY and not self._checkpointing:
            self._since_checkpoint = 0
            self._checkpointing = True
            self._start_helper(_hooks.timed_checkpoint(self._writer.checkpoint), self._checkpointed)

    # -- the writer process ----------------------------------------------------------

    async def _drain(self) -> None:
        assert self._link is not None
        try:
            await self._link.drain(self._timeout)
        except TimeoutError:
            raise StoreTimeout(f"sqlite store operation exceeded {self._timeout}s") from None

    def _read_data_version(self) -> int:
        return int(self._writer.connection().execute("PRAGMA data_version").fetchone()[0])

    def _send(self, jobs: list[Job]) -> None:
        """Plan ``jobs`` here, send the plan to the writer process, resolve on its ack."""
        link, writer = self._link, self._writer
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
        accepted = [r for r in results if r[2] is None]
        if len(accepted) < len(results):
            self._resolve([r for r in results if r[2] is not None])
        if accepted:
            sync = any(job.sync for job, _, _ in accepted)
            self._flight.append(plan)
            link.send(plan, sync, lambda status, text: self._acked(accepted, status, text))

    def _acked(
        self, accepted: list[tuple[Job, Any, BaseException | None]], status: int, text: str
    ) -> None:
        assert self._link is not None
        self._flight.popleft()
        if status == 0:
            self._resolve(accepted)
        else:
            self._writer.forget_versions()
            error: StoreError = (
                VersionConflict(f"sqlite: {text}") if status == 1 else StoreError(text)
            )
            self._resolve([(job, None, error) for job, _, _ in accepted])
        if not self._link.in_flight and self._link.broken is None:
            with contextlib.suppress(sqlite3.Error):  # absorb our own commits' change
                self._data_version = self._read_data_version()
                self._version_fresh = True  # for the group sent right now, if any
            if self._urgent or self._pending_ops >= self._max_pending:
                self._flush()  # what queued up while the commit was in flight: the next group
            elif self._queued:
                self._schedule(defer=True)  # nobody waits: let it grow for flush_interval
            self._version_fresh = False

    def _start_helper(
        self, fn: Callable[[], Any], done: Callable[[asyncio.Future[Any]], None]
    ) -> None:
        assert self._executor is not None
        fut = asyncio.get_running_loop().run_in_executor(self._executor, fn)
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

    async def _await(self, fut: asyncio.Future[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await asyncio.shield(fut)
        except TimeoutError:
            raise StoreTimeout(f"sqlite store operation exceeded {self._timeout}s") from None

    def _resolve(self, results: Sequence[tuple[Job, Any, BaseException | None]]) -> None:
        for job, value, error in results:
            if job.future.done():
                continue
            if error is None:
                job.future.set_result(value)
            else:
                self._conflicts += isinstance(error, VersionConflict)
                job.future.set_exception(error)
