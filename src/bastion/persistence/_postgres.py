"""A :class:`StateStore` on PostgreSQL, for several processes or machines sharing state.

Writes are group-committed like SQLite's: batches queue up, and one committer task takes
everything queued as one group, plans it in submission order (each batch's
compare-and-set checked against versions read ``FOR UPDATE`` in the group's own
transaction; a failing batch rejected whole, the others kept) and commits it as one
transaction. Batches submitted while a commit is in flight form the next group. Reads
wait for every batch submitted before them, then run on a pooled connection.

The connections, retries and the driver live in :mod:`._postgres_link` (imported by
:meth:`PostgresStore.open`, so this module imports without the ``postgres`` extra); the
tables and their migrations in :mod:`._postgres_schema`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Unpack

from bastion.persistence import _postgres_queries as queries
from bastion.persistence._errors import StoreClosed, StoreTimeout, VersionConflict
from bastion.persistence._paged import Cursor, NamespaceHead, PageRow
from bastion.persistence._postgres_options import BatchedCommit, check_options
from bastion.persistence._postgres_options import PostgresStoreOptions as Options
from bastion.persistence._postgres_plan import Job, Outcome
from bastion.persistence._postgres_schema import check_schema_name
from bastion.persistence._postgres_sql import Statements
from bastion.persistence._protocol import (
    NamespaceData,
    Op,
    QuarantineEntry,
    Record,
    StoreStatistics,
    WriteResult,
)
from bastion.telemetry import _hooks

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from bastion.persistence._postgres_link import Link

__all__ = ["PostgresStore"]

T = TypeVar("T")


class PostgresStore:
    """A durable store in a PostgreSQL database; create it with ``await PostgresStore.open(dsn)``.

    ``schema``: the PostgreSQL schema holding the ``bastion_*`` tables (created if
    missing). ``max_pending_ops`` bounds the queued operations; ``op_timeout`` is the
    deadline of every operation, retries after a lost connection included
    (:class:`StoreTimeout` on expiry). ``flush_interval``: how long a deferred batch may
    wait for company. ``pool_size``: connections for reads (plus one writer).
    ``batched_commit``: PostgreSQL's ``synchronous_commit`` for ordinary (batched)
    writes; writes submitted with ``sync=True`` always commit with ``on``.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        max_pending_ops: int = 100_000,
        op_timeout: float = 30.0,
        flush_interval: float = 0.01,
        pool_size: int = 4,
        batched_commit: BatchedCommit = "off",
        application_name: str = "bastion",
    ) -> None:
        check_options(dsn, max_pending_ops, pool_size, batched_commit, op_timeout, flush_interval)
        self.dsn = dsn
        self.schema = check_schema_name(schema)
        self._options = (op_timeout, pool_size, batched_commit, application_name)
        self._max_pending = max_pending_ops
        self._timeout = op_timeout
        self._interval = flush_interval
        self._sql = Statements(self.schema)
        self._link: Link | None = None
        self._queued: list[Job] = []
        self._pending_ops = 0
        self._urgent = False
        self._last: asyncio.Future[WriteResult] | None = None
        self._committer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._group_done: asyncio.Future[None] | None = None
        self._closing = False
        self._closed = False
        self._groups = 0
        self._commits = 0
        self._batches = 0
        self._ops = 0
        self._conflicts = 0
        self._max_group = 0
        self._quarantined = 0

    @classmethod
    async def open(cls, dsn: str, **options: Unpack[Options]) -> PostgresStore:
        """Connect, create or migrate the tables, and return the open store.

        ``options`` are the constructor's (see the class). Raises :class:`StoreOpenError`
        for a schema written by a newer Bastion or tables that are not a state store's,
        :class:`StoreError` (retryable) when the server cannot be reached,
        :class:`StoreTimeout` past ``op_timeout``, ImportError without the ``postgres``
        extra.
        """
        store = cls(dsn, **options)
        try:
            from bastion.persistence._postgres_link import Link, Settings
        except ImportError as exc:
            raise ImportError(
                "PostgresStore needs psycopg and psycopg-pool: pip install 'bastion[postgres]'"
            ) from exc
        timeout, pool_size, commit, name = store._options
        settings = Settings(
            dsn,
            store.schema,
            timeout=timeout,
            pool_size=pool_size,
            batched_commit=commit,
            application_name=name,
        )
        link = Link(settings)
        try:
            await link.open()
        except BaseException:
            await link.close()
            raise
        store._link = link
        return store

    async def __aenter__(self) -> PostgresStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def backend(self) -> str:
        """``"postgres"``."""
        return "postgres"

    # -- writes ------------------------------------------------------------------------

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        """Queue a batch for a group commit; returns its future at once (awaits only while
        ``max_pending_ops`` are queued and a commit is in flight)."""
        self._check_open()
        while self._pending_ops >= self._max_pending and self._committer is not None:
            await self._wait_group()
            self._check_open()
        size = max(1, len(ops))
        job = Job(asyncio.get_running_loop().create_future(), ops, sync, size)
        self._queued.append(job)
        self._pending_ops += size
        self._batches += 1
        self._ops += len(ops)
        self._last = job.future
        self._urgent = self._urgent or not defer
        _hooks.write_submitted(job.future, self._pending_ops, "postgres")
        self._kick()
        return job.future

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        """Submit a batch and wait for its commit (``StoreTimeout`` after ``op_timeout``)."""
        fut = await self.submit(ops, sync=sync)
        try:
            async with asyncio.timeout(self._timeout * 2):  # the link's own deadline is first
                return await asyncio.shield(fut)
        except TimeoutError:
            raise StoreTimeout(f"postgres store write exceeded {self._timeout * 2}s") from None

    def _kick(self) -> None:
        """Start the committer now (a batch someone waits for) or within flush_interval."""
        if self._committer is not None or not self._queued:
            return  # the commit in flight takes the queue as its next group
        if self._urgent or self._closing or self._pending_ops >= self._max_pending:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._committer = asyncio.get_running_loop().create_task(
                self._commit_groups(), name="bastion-postgres-committer"
            )
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._urgent = True
        self._kick()

    async def _commit_groups(self) -> None:
        link = self._link
        assert link is not None
        try:
            while self._queued and (
                self._urgent or self._closing or self._pending_ops >= self._max_pending
            ):
                jobs, self._queued = self._queued, []
                self._pending_ops, self._urgent = 0, False
                self._groups += 1
                self._max_group = max(self._max_group, len(jobs))
                _hooks.group_committed(len(jobs), "postgres")
                try:
                    outcomes = await link.commit(jobs, self._groups, any(j.sync for j in jobs))
                except BaseException as exc:  # cancelled, or a bug: nobody may wait forever
                    failed = StoreClosed(f"the postgres store's committer stopped: {exc!r}")
                    self._resolve([(job, None, failed) for job in jobs])
                    raise
                self._commits = link.commits
                self._resolve(outcomes)
                self._wake_waiters()
        finally:
            self._committer = None
            self._wake_waiters()
            if not self._closed:
                self._kick()

    def _wake_waiters(self) -> None:
        done, self._group_done = self._group_done, None
        if done is not None and not done.done():
            done.set_result(None)

    async def _wait_group(self) -> None:
        if self._group_done is None:
            self._group_done = asyncio.get_running_loop().create_future()
        waiter = self._group_done
        try:
            async with asyncio.timeout(self._timeout * 2):
                await asyncio.shield(waiter)
        except TimeoutError:
            raise StoreTimeout(
                f"postgres store queue stayed full for {self._timeout * 2}s"
            ) from None

    def _resolve(self, outcomes: Sequence[Outcome]) -> None:
        for job, value, error in outcomes:
            if job.future.done():
                continue
            if error is None:
                job.future.set_result(value)
            else:
                self._conflicts += isinstance(error, VersionConflict)
                job.future.set_exception(error)

    async def _settle(self) -> None:
        """Wait until every batch submitted so far is committed (or failed)."""
        self._check_open()
        last = self._last
        if last is None or last.done():
            return
        self._urgent = True
        self._kick()
        done, _ = await asyncio.wait([last], timeout=self._timeout * 2)
        if not done:
            raise StoreTimeout(
                f"postgres store: earlier writes not committed in {self._timeout * 2}s"
            )

    # -- reads -------------------------------------------------------------------------

    async def _run(
        self, fn: Callable[[AsyncConnection[Any]], Awaitable[T]], *, transaction: bool = False
    ) -> T:
        await self._settle()
        assert self._link is not None
        return await self._link.run(fn, transaction=transaction)

    async def read(self, namespace: str, key: str) -> Record | None:
        """One record, or None; sees every batch submitted before it."""
        return await self._run(lambda c: queries.read_record(c, self._sql, namespace, key))

    async def read_item(self, namespace: str, collection: str, item: str) -> bytes | None:
        """One collection item, or None; sees every batch submitted before it."""
        return await self._run(
            lambda c: queries.read_item(c, self._sql, namespace, collection, item)
        )

    async def load(self, namespace: str) -> NamespaceData:
        """Everything under ``namespace`` (one snapshot), items in key order."""
        return await self._run(
            lambda c: queries.load_namespace(c, self._sql, namespace), transaction=True
        )

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
        return await self._run(
            lambda c: queries.load_head(c, self._sql, namespace, ordered, limit, shift, skip),
            transaction=True,
        )

    async def load_page(
        self, namespace: str, collection: str, after: Cursor, limit: int
    ) -> list[PageRow]:
        """The next rows of an ordered collection (``PagedLoad``)."""
        return await self._run(
            lambda c: queries.load_page(c, self._sql, namespace, collection, after, limit)
        )

    async def load_items(
        self, namespace: str, collection: str, after: str, limit: int
    ) -> list[tuple[str, bytes]]:
        """The next items of a collection by key (``PagedLoad``)."""
        return await self._run(
            lambda c: queries.load_items(c, self._sql, namespace, collection, after, limit)
        )

    async def namespaces(self, prefix: str = "") -> list[str]:
        """Sorted namespaces starting with ``prefix``."""
        return await self._run(lambda c: queries.list_namespaces(c, self._sql, prefix))

    async def drop(self, namespace: str) -> None:
        """Delete everything under ``namespace`` (one transaction)."""
        self._forget_versions()
        await self._run(lambda c: queries.drop_namespace(c, self._sql, namespace), transaction=True)

    async def quarantine(self, namespace: str, reason: str) -> QuarantineEntry:
        """Move the namespace's rows into the quarantine tables (one transaction)."""
        now = time.time()
        entry = await self._run(
            lambda c: queries.quarantine_namespace(c, self._sql, namespace, reason, now),
            transaction=True,
        )
        self._forget_versions()
        self._quarantined += 1
        _hooks.count("bastion_persistence_quarantines", "postgres")
        return entry

    async def quarantined(self, prefix: str = "") -> list[QuarantineEntry]:
        """Quarantined namespaces, oldest first."""
        return await self._run(lambda c: queries.list_quarantined(c, self._sql, prefix))

    # -- lifecycle ---------------------------------------------------------------------

    async def close(self) -> None:
        """Commit what is queued, then close the connections. Idempotent."""
        if self._closing:
            return
        self._closing = True
        try:
            self._kick()
            committer = self._committer
            if committer is not None:
                done, _ = await asyncio.wait([committer], timeout=self._timeout * 2)
                if not done:
                    committer.cancel()
                    await asyncio.wait([committer], timeout=self._timeout)
                    raise StoreTimeout(
                        f"the postgres store did not commit its queue within {self._timeout * 2}s"
                    )
        finally:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            link, self._link = self._link, None
            if link is not None:
                await link.close()

    def _forget_versions(self) -> None:
        if self._link is not None:
            self._link.forget_versions()

    def _check_open(self) -> None:
        if self._link is None or self._closing:
            raise StoreClosed(f"the postgres store (schema {self.schema!r}) is closed")

    def statistics(self) -> StoreStatistics:
        """Counters since :meth:`open` (``quarantined``: by this instance)."""
        return StoreStatistics(
            backend="postgres",
            batches=self._batches,
            ops=self._ops,
            commits=self._commits,
            conflicts=self._conflicts,
            pending_ops=self._pending_ops,
            max_group=self._max_group,
            quarantined=self._quarantined,
            closed=self._closed,
        )
