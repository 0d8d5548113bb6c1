"""The PostgreSQL store's connections: one writer for group commits, a pool for reads.

Everything that touches psycopg lives here (the store itself imports no driver, so
``bastion.persistence`` imports without the ``postgres`` extra).

**Connection loss.** A transient failure (see :mod:`._postgres_errors`: the server
restarting, a terminated backend, a dropped socket) closes the connection; the
operation is retried on a new one, with backoff, until its deadline, then fails with
:class:`StoreTimeout` naming the last error. A permanent failure fails at once.

**Commits whose outcome is unknown.** Each group's transaction also writes the group's
number into this store's row of ``bastion_writers``. When the connection is lost while
``COMMIT`` is in flight, the store reads that row on the next connection: the group is
acknowledged if it landed, retried (re-planned from fresh versions) if not. So an
acknowledged batch is never lost, and a batch is never applied twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import psycopg_pool

from bastion.persistence._errors import StoreError, StoreTimeout, VersionConflict
from bastion.persistence._postgres_errors import store_error
from bastion.persistence._postgres_plan import GroupPlan, Job, Outcome, plan_group, record_keys
from bastion.persistence._postgres_schema import prepare
from bastion.persistence._postgres_sql import Statements, group_params

__all__ = ["Link", "Settings"]

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]
#: First pause before a retry after a transient failure; doubled up to ``_MAX_BACKOFF``.
_FIRST_BACKOFF = 0.02
_MAX_BACKOFF = 0.5
#: Groups planned on versions another writer changed meanwhile (a unique violation, or a
#: record no longer at the version the plan started from): retried at once, from fresh
#: versions, this many times before the group fails.
_MAX_RACES = 20
#: Record versions cached before the cache is dropped.
MAX_CACHED = 50_000


class Settings:
    """What a link needs from the store's options."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        *,
        timeout: float,
        pool_size: int,
        batched_commit: str,
        application_name: str,
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.timeout = timeout
        self.pool_size = pool_size
        self.batched_commit = batched_commit
        self.application_name = application_name


class _Raced(Exception):
    """Another writer changed a record of the group after its versions were read."""


class Link:
    """The writer connection and the read pool of one store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sql = Statements(settings.schema)
        self.writer_id = uuid.uuid4()
        self.commits = 0
        self.reconnects = 0
        self._conn: Conn | None = None
        self._pool: psycopg_pool.AsyncConnectionPool[Conn] | None = None
        self._doubt: tuple[int, list[Outcome], GroupPlan] | None = None  # a group in doubt
        self._versions: dict[tuple[str, str], int] = {}  # record versions as last written

    async def open(self) -> None:
        """Connect (retrying transient failures until the deadline), create or migrate
        the tables, register this writer, open the pool."""
        s = self.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + s.timeout
        backoff = _FIRST_BACKOFF
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._open_once()
                return
            except psycopg.Error as exc:
                await self._drop_writer()
                err = store_error(exc, f"postgres: cannot open the store ({s.schema!r})")
                if not err.retryable or loop.time() + backoff >= deadline:
                    raise err from exc
            except TimeoutError:
                await self._drop_writer()
                raise StoreTimeout(
                    f"postgres: the store did not open within {s.timeout}s"
                ) from None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _open_once(self) -> None:
        s = self.settings
        if self._conn is None:
            conn = await self._connect()
            try:
                await prepare(conn, s.schema)
                await conn.execute(self.sql.register_writer, (self.writer_id,))
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        if self._pool is None:
            pool: psycopg_pool.AsyncConnectionPool[Conn] = psycopg_pool.AsyncConnectionPool(
                s.dsn,
                min_size=1,
                max_size=s.pool_size,
                kwargs=self._connect_kwargs(),
                configure=self._configure,
                open=False,
                timeout=s.timeout,
                name=f"bastion-{s.schema}",
            )
            try:
                await pool.open(wait=True, timeout=s.timeout)
            except BaseException:
                await pool.close(timeout=s.timeout)
                raise
            self._pool = pool

    def _connect_kwargs(self) -> dict[str, Any]:
        s = self.settings
        return {
            "autocommit": True,
            "connect_timeout": max(1, int(s.timeout)),
            "application_name": s.application_name,
        }

    async def _configure(self, conn: Conn) -> None:
        ms = int(self.settings.timeout * 1000)
        await conn.execute(f"SET statement_timeout = {ms}")
        await conn.execute(f"SET lock_timeout = {ms}")
        await conn.execute(f"SET synchronous_commit = {self.settings.batched_commit}")

    async def _connect(self) -> Conn:
        conn = await psycopg.AsyncConnection.connect(self.settings.dsn, **self._connect_kwargs())
        try:
            await self._configure(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def close(self) -> None:
        """Forget this writer's row (best effort), close the connection and the pool."""
        conn, self._conn = self._conn, None
        pool, self._pool = self._pool, None
        try:
            if conn is not None and not conn.closed:
                try:
                    async with asyncio.timeout(self.settings.timeout):
                        await conn.execute(self.sql.forget_writer, (self.writer_id,))
                except (psycopg.Error, TimeoutError):
                    pass  # a stale row costs nothing; the store's data is committed
                await conn.close()
        finally:
            if pool is not None:
                await pool.close(timeout=self.settings.timeout)

    # -- group commit ----------------------------------------------------------------

    async def commit(self, jobs: list[Job], group: int, sync: bool) -> list[Outcome]:
        """Plan and commit ``jobs`` as group number ``group``; an outcome per job.

        Never raises (but cancellation): a failure becomes every job's error.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.timeout
        backoff, races, last = _FIRST_BACKOFF, 0, None
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    conn = await self._writer()
                    if self._doubt is not None:
                        landed = await self._resolve_doubt(conn)
                        if landed is not None:
                            return landed
                    return await self._commit_once(conn, jobs, group, sync)
            except _Raced:
                races += 1
                if races <= _MAX_RACES:
                    continue
                err: StoreError = StoreError(
                    "postgres: records kept being created by another writer during the group",
                    retryable=True,
                )
                return [(job, None, err) for job in jobs]
            except psycopg.Error as exc:
                await self._drop_writer()
                last = store_error(exc)
                if not last.retryable:
                    return [(job, None, last) for job in jobs]
            except TimeoutError:
                await self._drop_writer()
            if loop.time() + backoff >= deadline:
                doubt, self._doubt = self._doubt is not None, None
                err = self._past_deadline(last, "the group was not committed", doubt)
                return [(job, None, err) for job in jobs]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    def _past_deadline(
        self, last: StoreError | None, what: str, doubt: bool = False
    ) -> StoreTimeout:
        why = f" (last error: {last})" if last is not None else ""
        unknown = "; the outcome of its commit is unknown" if doubt else ""
        err = StoreTimeout(f"postgres: {what} within {self.settings.timeout}s{why}{unknown}")
        err.__cause__ = last
        return err

    async def _writer(self) -> Conn:
        if self._conn is None or self._conn.closed or self._conn.broken:
            await self._drop_writer()
            self._conn = await self._connect()
            self.reconnects += 1
        return self._conn

    async def _drop_writer(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.closed:
            try:
                async with asyncio.timeout(1.0):
                    await conn.close()
            except (psycopg.Error, OSError, TimeoutError):
                pass  # the connection is being thrown away

    async def _resolve_doubt(self, conn: Conn) -> list[Outcome] | None:
        """The outcomes of the group whose commit was in flight at a connection loss, if
        it landed; None (and the group is planned again) if it did not."""
        assert self._doubt is not None
        group, outcomes, plan = self._doubt
        cur = await conn.execute(self.sql.group_mark, (self.writer_id,))
        row = await cur.fetchone()
        self._doubt = None
        if row is not None and int(row[0]) == group:
            self._landed(plan)
            return outcomes
        return None

    async def _commit_once(
        self, conn: Conn, jobs: list[Job], group: int, sync: bool
    ) -> list[Outcome]:
        """One attempt: plan against the cached versions (records not cached are read
        first), then one statement writes the group and checks the versions it started
        from; a mismatch (another writer) fails it whole and the group is planned again."""
        keys = record_keys(jobs)
        missing = [k for k in keys if k not in self._versions]
        if missing:
            await self._read_versions(conn, missing)
        plan, outcomes = plan_group(jobs, {k: self._versions[k] for k in keys})
        # a batch rejected against a cached version never reaches the statement that
        # would notice the cache is stale (another writer moved the record on): read
        # those records again and plan once more, or the conflict would repeat forever
        stale = _conflicts(outcomes) - set(missing)
        if stale:
            await self._read_versions(conn, list(stale))
            plan, outcomes = plan_group(jobs, {k: self._versions[k] for k in keys})
        if plan.empty:
            return outcomes
        params = group_params(plan, self.writer_id, group)
        self._doubt = (group, outcomes, plan)  # from here on, it may commit unseen
        try:
            if sync:
                async with conn.pipeline():
                    await conn.execute("SET synchronous_commit = on")
                    await conn.execute(self.sql.write_group, params)
                    await conn.execute(f"SET synchronous_commit = {self.settings.batched_commit}")
            else:
                await conn.execute(self.sql.write_group, params)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DivisionByZero):
            self._doubt = None  # the statement failed whole: nothing landed
            self._versions.clear()
            if sync:  # a failed pipeline may leave psycopg's prepared statements out of step
                await self._drop_writer()
            raise _Raced() from None
        except BaseException:
            self._versions.clear()
            await self._drop_writer()
            raise
        self._doubt = None
        self._landed(plan)
        return outcomes

    async def _read_versions(self, conn: Conn, keys: list[tuple[str, str]]) -> None:
        """Cache the current versions of ``keys`` (0: absent) as the database has them."""
        cur = await conn.execute(
            self.sql.read_versions, ([k[0] for k in keys], [k[1] for k in keys])
        )
        found = {(r[0], r[1]): int(r[2]) for r in await cur.fetchall()}
        for key in keys:
            self._versions[key] = found.get(key, 0)

    def _landed(self, plan: GroupPlan) -> None:
        """A group committed: remember its records' versions, count the commit."""
        if len(self._versions) > MAX_CACHED:
            self._versions.clear()
        for key, (version, _) in plan.record_puts.items():
            self._versions[key] = version
        for key in plan.record_dels:
            self._versions[key] = 0
        self.commits += 1

    def forget_versions(self) -> None:
        """Drop the version cache (records were changed outside a group: drop, quarantine)."""
        self._versions.clear()

    # -- reads and maintenance ---------------------------------------------------------

    async def run(self, fn: Callable[[Conn], Awaitable[T]], *, transaction: bool = False) -> T:
        """Run ``fn`` on a pooled connection (in a transaction if asked), retrying
        transient failures until the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.timeout
        backoff, last = _FIRST_BACKOFF, None
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    return await self._run_once(fn, transaction)
            except psycopg.Error as exc:  # PoolTimeout included: no connection in time
                last = store_error(exc)
                if not last.retryable:
                    raise last from exc
            except TimeoutError:
                pass
            if loop.time() + backoff >= deadline:
                raise self._past_deadline(last, "the operation did not succeed")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _run_once(self, fn: Callable[[Conn], Awaitable[T]], transaction: bool) -> T:
        assert self._pool is not None
        async with self._pool.connection() as conn:
            if not transaction:
                return await fn(conn)
            async with conn.transaction():
                return await fn(conn)


def _conflicts(outcomes: list[Outcome]) -> set[tuple[str, str]]:
    """The records whose compare-and-set or fence rejected a batch of ``outcomes``."""
    keys: set[tuple[str, str]] = set()
    for _, _, error in outcomes:
        if isinstance(error, VersionConflict) and error.context:
            namespace, key = error.context.get("namespace"), error.context.get("key")
            if isinstance(namespace, str) and isinstance(key, str):
                keys.add((namespace, key))
    return keys
