"""The default :class:`StateStore`: SQLite in WAL mode with group commit.

One writer thread, owned by the store (a single-worker executor made by
:meth:`SQLiteStore.open` and shut down by :meth:`SQLiteStore.close`), holds the
connection; the event loop never runs SQL. Batches submitted while a flush is running
wait in a list and go to the thread together as the next group, which commits as one
transaction (group commit) and wakes the loop once. The list is bounded
(``max_pending_ops``: a full store makes ``submit`` wait, up to ``op_timeout``). Every
operation has a deadline.

Durability (see :class:`Durability`): the connection runs ``synchronous=NORMAL``; a
committed transaction is in the WAL and survives ``kill -9`` of the process. A batch
submitted with ``sync=True`` makes its group commit with ``synchronous=FULL`` (fsync),
which also survives an OS crash or power loss.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bastion.persistence._errors import StoreClosed, StoreTimeout, VersionConflict
from bastion.persistence._protocol import (
    NamespaceData,
    Op,
    QuarantineEntry,
    Record,
    StoreStatistics,
    WriteResult,
)
from bastion.persistence._sqlite_queries import (
    drop_namespace,
    list_namespaces,
    list_quarantined,
    load_namespace,
    quarantine_namespace,
    read_item,
    read_record,
)
from bastion.persistence._sqlite_writer import Job, Writer

__all__ = ["SQLiteStore"]

T = TypeVar("T")


class SQLiteStore:
    """A durable store in one SQLite file; create it with ``await SQLiteStore.open(path)``.

    ``max_pending_ops`` bounds the operations queued for the writer; ``op_timeout`` is the
    deadline of every operation (:class:`StoreTimeout` on expiry).
    """

    def __init__(self, path: str | os.PathLike[str], *, max_pending_ops: int = 100_000,
                 op_timeout: float = 30.0) -> None:
        if max_pending_ops < 1:
            raise ValueError("max_pending_ops must be >= 1")
        if not 0 < op_timeout < float("inf"):
            raise ValueError("op_timeout must be a finite number of seconds > 0")
        self.path = os.fspath(path)
        self._max_pending = max_pending_ops
        self._timeout = op_timeout
        self._writer = Writer(self.path)
        self._executor: ThreadPoolExecutor | None = None
        self._queued: list[Job] = []
        self._flushing: asyncio.Future[Any] | None = None
        self._flush_scheduled = False
        self._pending_ops = 0
        self._space = asyncio.Event()
        self._closed = False
        self._batches = 0
        self._ops = 0
        self._conflicts = 0
        self._quarantined = 0

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, max_pending_ops: int = 100_000,
                   op_timeout: float = 30.0) -> SQLiteStore:
        """Open (or create) the database and start the writer thread.

        Raises :class:`StoreError` if the file is not a Bastion state database.
        """
        store = cls(path, max_pending_ops=max_pending_ops, op_timeout=op_timeout)
        store._executor = ThreadPoolExecutor(1, thread_name_prefix="bastion-sqlite")
        try:
            await store._run(lambda conn: None)
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
        self, ops: Sequence[Op], *, sync: bool = False
    ) -> asyncio.Future[WriteResult]:
        """Queue a batch for the next group commit; returns its future at once."""
        size = max(1, len(ops))
        if self._pending_ops + size > self._max_pending and self._pending_ops:
            await self._wait_for_space(size)
        fut = self._enqueue(Job(asyncio.get_running_loop().create_future(), ops, sync, size=size))
        self._batches += 1
        self._ops += len(ops)
        return fut

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        """Submit a batch and wait for its commit (``StoreTimeout`` after ``op_timeout``)."""
        return await self._await(await self.submit(ops, sync=sync))

    async def read(self, namespace: str, key: str) -> Record | None:
        """One record; sees every batch submitted before it."""
        return await self._run(lambda c: read_record(c, namespace, key))

    async def read_item(self, namespace: str, collection: str, item: str) -> bytes | None:
        """One collection item."""
        return await self._run(lambda c: read_item(c, namespace, collection, item))

    async def load(self, namespace: str) -> NamespaceData:
        """Everything under ``namespace``: one read transaction, items in key order."""
        return await self._run(lambda c: load_namespace(c, namespace))

    async def namespaces(self, prefix: str = "") -> list[str]:
        """Sorted namespaces starting with ``prefix``."""
        return await self._run(lambda c: list_namespaces(c, prefix))

    async def drop(self, namespace: str) -> None:
        """Delete everything under ``namespace``."""
        await self._run(lambda c: drop_namespace(c, namespace))

    async def quarantine(self, namespace: str, reason: str) -> QuarantineEntry:
        """Move the namespace's rows into the quarantine tables."""
        now = time.time()
        self._quarantined += 1
        return await self._run(lambda c: quarantine_namespace(c, namespace, reason, now))

    async def quarantined(self, prefix: str = "") -> list[QuarantineEntry]:
        """Quarantined namespaces, oldest first."""
        return await self._run(lambda c: list_quarantined(c, prefix))

    async def close(self) -> None:
        """Commit what is queued, close the connection and stop the writer thread."""
        if self._closed:
            return
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            async with asyncio.timeout(self._timeout):
                while self._flushing is not None or self._queued:
                    if self._flushing is None:
                        self._start_flush(executor)
                    assert self._flushing is not None
                    await asyncio.shield(self._flushing)
                await asyncio.get_running_loop().run_in_executor(executor, self._writer.close)
        except TimeoutError:
            raise StoreTimeout(f"the sqlite store did not close within {self._timeout}s") from None
        finally:
            executor.shutdown(wait=True)  # idle by now: returns at once

    def statistics(self) -> StoreStatistics:
        """Counters since :meth:`open` (``quarantined``: by this instance)."""
        w = self._writer
        return StoreStatistics(
            backend="sqlite", batches=self._batches, ops=self._ops,
            commits=w.commits, conflicts=self._conflicts,
            pending_ops=self._pending_ops, max_group=w.max_group,
            quarantined=self._quarantined, closed=self._closed,
        )

    # -- loop side plumbing ----------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        fut = self._enqueue(Job(asyncio.get_running_loop().create_future(), fn=fn, size=1))
        result: T = await self._await(fut)
        return result

    def _enqueue(self, job: Job) -> asyncio.Future[Any]:
        if self._executor is None or self._closed:
            raise StoreClosed(f"the sqlite store {self.path!r} is closed")
        self._pending_ops += job.size
        self._queued.append(job)
        if self._flushing is None and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_flush, self._executor)
        return job.future

    def _start_flush(self, executor: ThreadPoolExecutor) -> None:
        self._flush_scheduled = False
        if self._flushing is not None or not self._queued:
            return
        jobs, self._queued = self._queued, []
        loop = asyncio.get_running_loop()
        self._flushing = loop.run_in_executor(executor, self._writer.flush, jobs)
        self._flushing.add_done_callback(lambda f: self._flushed(f, jobs, executor))

    def _flushed(self, fut: asyncio.Future[Any], jobs: list[Job],
                 executor: ThreadPoolExecutor) -> None:
        self._flushing = None
        if fut.cancelled() or fut.exception() is not None:
            err = StoreClosed(f"the sqlite writer failed: {fut.exception()!r}")
            results: list[tuple[Job, Any, BaseException | None]] = [
                (job, None, err) for job in jobs]
        else:
            results = fut.result()
        self._resolve(results)
        if self._queued:
            self._start_flush(executor)

    async def _await(self, fut: asyncio.Future[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await asyncio.shield(fut)
        except TimeoutError:
            raise StoreTimeout(f"sqlite store operation exceeded {self._timeout}s") from None

    async def _wait_for_space(self, size: int) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                while self._pending_ops and self._pending_ops + size > self._max_pending:
                    self._space.clear()
                    await self._space.wait()
        except TimeoutError:
            raise StoreTimeout(f"sqlite store queue stayed full for {self._timeout}s") from None

    def _resolve(self, results: list[tuple[Job, Any, BaseException | None]]) -> None:
        for job, value, error in results:
            self._pending_ops -= job.size
            if job.future.done():
                continue
            if error is None:
                job.future.set_result(value)
            else:
                self._conflicts += isinstance(error, VersionConflict)
                job.future.set_exception(error)
        self._space.set()
