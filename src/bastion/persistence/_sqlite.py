"""The default :class:`StateStore`: SQLite in WAL mode with group commit.

One writer thread, owned by the store (started by :meth:`SQLiteStore.open`, stopped by
:meth:`SQLiteStore.close`), holds the connection. The event loop never runs SQL: it
hands batches over through an unbounded thread-safe queue guarded by a bounded count of
pending operations (``max_pending_ops``: a full store makes ``submit`` wait, up to
``op_timeout``), and is woken once per committed group. Every operation has a deadline.

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
from typing import Any, TypeVar

from bastion.persistence._errors import StoreClosed, StoreTimeout
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
        self._writer: Writer | None = None
        self._outstanding: set[asyncio.Future[Any]] = set()
        self._pending_ops = 0
        self._space = asyncio.Event()
        self._stopped: asyncio.Future[None] | None = None
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
        loop = asyncio.get_running_loop()
        store._stopped = loop.create_future()
        store._writer = Writer(store.path, loop, store._on_done)
        store._writer.start()
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
        """Commit what is queued, stop the writer thread and close the connection."""
        if self._closed:
            return
        self._closed = True
        writer, stopped = self._writer, self._stopped
        if writer is None or stopped is None:
            return
        writer.put(None)
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.shield(stopped)
        except TimeoutError:
            raise StoreTimeout(f"the sqlite writer did not stop within {self._timeout}s") from None
        writer.join(self._timeout)

    def statistics(self) -> StoreStatistics:
        """Counters since :meth:`open` (``quarantined``: by this instance)."""
        w = self._writer
        return StoreStatistics(
            backend="sqlite", batches=self._batches, ops=self._ops,
            commits=w.commits if w else 0, conflicts=self._conflicts,
            pending_ops=self._pending_ops, max_group=w.max_group if w else 0,
            quarantined=self._quarantined, closed=self._closed,
        )

    # -- loop side plumbing ----------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        fut = self._enqueue(Job(asyncio.get_running_loop().create_future(), fn=fn, size=1))
        result: T = await self._await(fut)
        return result

    def _enqueue(self, job: Job) -> asyncio.Future[Any]:
        if self._writer is None or self._closed:
            raise StoreClosed(f"the sqlite store {self.path!r} is closed")
        self._pending_ops += job.size
        self._outstanding.add(job.future)
        self._writer.put(job)
        return job.future

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

    def _on_done(self, results: list[tuple[Job, Any, BaseException | None]]) -> None:
        if not results:
            self._writer_stopped()
            return
        for job, value, error in results:
            self._pending_ops -= job.size
            self._outstanding.discard(job.future)
            if job.future.done():
                continue
            if error is None:
                job.future.set_result(value)
            else:
                self._conflicts += type(error).__name__ == "VersionConflict"
                job.future.set_exception(error)
        self._space.set()

    def _writer_stopped(self) -> None:
        self._closed = True
        failure = self._writer.failure if self._writer else None
        for fut in self._outstanding:
            if not fut.done():
                fut.set_exception(StoreClosed("the sqlite writer stopped", context={
                    "failure": repr(failure)}))
        self._outstanding.clear()
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)

