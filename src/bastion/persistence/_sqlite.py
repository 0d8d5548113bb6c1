"""The default :class:`StateStore`: one SQLite file in WAL mode, with group commits.

Every write batch is queued, and a *flush* takes all queued batches (from any number of
agents) as one group: the group is **planned on the event loop**, in submission order
(each batch's compare-and-set checked against a per-record version cache, a failing
batch rejected whole, only the last write of each row kept), then **committed** as one
short transaction by one of two writers:

* ``writer="loop"`` (the default): the statements and ``COMMIT`` run on the event loop
  itself (lowest latency for one acknowledged write, no second process); a helper
  thread runs maintenance and fsyncs.
* ``writer="thread"``: a writer thread of the store with its own connection
  (:class:`~bastion.persistence._sqlite_thread.ThreadLink`) commits each group, one
  ``json_each`` statement per table, so SQLite runs the rows without the GIL.
* ``writer="process"`` (POSIX): a child process
  (:mod:`~bastion.persistence._writer_proc`, driven by
  :class:`~bastion.persistence._sqlite_proc.ProcessLink`) executes the planned
  statements off the loop's core and acknowledges each group; maintenance and fsyncs
  too. It pays where a spare core runs the child (see ``docs/persistence.md``).

When groups are taken and how their replies leave: :mod:`._sqlite_groups` (one commit
per loop turn for every batch someone waits for, replies released in one pass). Reads
run in this process after every group before them is committed.

The file's schema, statements and identity checks live in
:mod:`~bastion.persistence._sqlite_schema`: a file that is not a Bastion state database
is never written to (:class:`NotAStateStore`), a damaged one is reported
(:class:`DamagedStore`), never silently re-initialised.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, Unpack

from bastion._core._durations import positive_seconds
from bastion.persistence import _sqlite_pages as pages
from bastion.persistence import _sqlite_schema as schema
from bastion.persistence._errors import StoreClosed, StoreTimeout
from bastion.persistence._paged import Cursor, NamespaceHead, PageRow
from bastion.persistence._protocol import (
    NamespaceData,
    Op,
    QuarantineEntry,
    Record,
    StoreStatistics,
    WriteResult,
)
from bastion.persistence._sqlite_groups import GroupCommit
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
from bastion.persistence._sqlite_thread import ThreadLink
from bastion.persistence._sqlite_writer import Job, Writer
from bastion.telemetry import _hooks

__all__ = ["SQLiteStore"]

T = TypeVar("T")


class SQLiteStore:
    """A durable store in one SQLite file; create it with ``await SQLiteStore.open(path)``.

    ``max_pending_ops`` bounds the operations queued for the writer; ``op_timeout`` is the
    deadline of every operation (:class:`StoreTimeout` on expiry). ``writer="process"``
    executes the planned groups in a child writer process instead of on the event loop
    (POSIX), ``writer="thread"`` on a writer thread; the default (None) is ``"loop"``,
    chosen from measurements (``docs/persistence.md``, *The default writer*).
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
        if writer not in ("loop", "thread", "process"):
            raise ValueError(f"writer must be 'loop', 'thread' or 'process', not {writer!r}")
        if writer == "process" and not PROCESS_WRITER_SUPPORTED:
            raise ValueError("writer='process' needs a POSIX system; use writer='loop'")
        for label, value in (("op_timeout", op_timeout), ("flush_interval", flush_interval)):
            positive_seconds(label, value)
        self.path = os.fspath(path)
        schema.refuse_in_memory(self.path)
        self._timeout = op_timeout
        self._writer = Writer(self.path)
        self._link: ProcessLink | ThreadLink | None = None
        if writer == "process":
            self._link = ProcessLink(self.path)
        elif writer == "thread":
            self._link = ThreadLink(self.path)
        self._groups = GroupCommit(
            self._writer,
            self._link,
            max_pending=max_pending_ops,
            interval=flush_interval,
            timeout=op_timeout,
        )
        self._opened = False
        self._closed = False
        self._batches = 0
        self._ops = 0
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
                executor = ThreadPoolExecutor(1, thread_name_prefix="bastion-sqlite")
                store._groups.executor = executor
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
        return self._add(ops, sync, defer, None)

    async def submit_then(
        self,
        ops: Sequence[Op],
        then: Callable[[BaseException | None], None],
        *,
        sync: bool = False,
        defer: bool = False,
    ) -> asyncio.Future[WriteResult]:
        """:meth:`submit` a batch, and call ``then(error)`` as soon as it is committed
        (``error`` None) or has failed, in the same pass that resolves its group, before
        the loop turns (an optional method of the store protocol: an acknowledgement
        leaves with its commit). ``then`` must not raise; a failure handed to it counts
        as retrieved (no "exception was never retrieved" warning for its future).
        ``defer=True``: as for :meth:`submit`, nobody waits for it now.
        """
        return self._add(ops, sync, defer, then)

    def _add(
        self,
        ops: Sequence[Op],
        sync: bool,
        defer: bool,
        then: Callable[[BaseException | None], None] | None,
    ) -> asyncio.Future[WriteResult]:
        if self._closed or not self._opened:
            self._check_open()
        future: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        count = len(ops)
        self._batches += 1
        self._ops += count
        self._groups.add(Job(future, ops, sync, count or 1, then), defer=defer)
        return future

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
        if self._groups.untouched(key):
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
        self._groups.flush_now()
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
        executor, self._groups.executor = self._groups.executor, None
        if executor is None:
            self._writer.close()
            return
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                await self._groups.stop_helpers()
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
            conflicts=self._groups.conflicts,
            pending_ops=self._groups.pending_ops,
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
        self._groups.flush_now()  # it must see every batch submitted before it
        if self._link is not None:
            await self._groups.drain()
        result: T = self._writer.call(fn, writes=writes)
        if self._link is not None and writes:
            self._groups.wrote_elsewhere()
        return result

    async def _await(self, fut: asyncio.Future[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await asyncio.shield(fut)
        except TimeoutError:
            raise StoreTimeout(f"sqlite store operation exceeded {self._timeout}s") from None
