"""The SQLite writer: one connection, group commits of coalesced batches.

The store hands it lists of write batches (from any number of agents) to commit as one
transaction. Batches are *planned* in Python first, in submission order: each batch's
compare-and-set checks run against the record versions as the batches before it left
them (a per-record version cache, dropped whenever another connection wrote the file,
which ``PRAGMA data_version`` tells), and a batch that fails a check is rejected whole
and leaves no trace in the plan. The plan keeps only the last state of every record and
item, so a group costs a handful of ``executemany`` statements however many batches and
agents it carries.

Every method runs on the thread that calls it (the store calls them on the event loop);
:meth:`Writer.checkpoint` and :meth:`Writer.sync_wal` are meant for a helper thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bastion.persistence import _sqlite_schema as schema
from bastion.persistence._errors import StoreError, VersionConflict
from bastion.persistence._protocol import (
    Delete,
    DeleteItem,
    Fence,
    Op,
    Put,
    PutItem,
    WriteResult,
)
from bastion.persistence._sqlite_errors import store_error
from bastion.persistence._sqlite_files import open_error

__all__ = ["MAX_CACHED", "Job", "Plan", "Writer", "plan_rows", "store_error"]

MAX_CACHED = 50_000  # record versions cached before the cache is dropped

RecordKey = tuple[str, str]
ItemKey = tuple[str, str, str]


@dataclass(slots=True)
class Job:
    """One write batch waiting for its group commit.

    ``then`` is called with the batch's error (None: committed) right after its future
    is resolved; ``submitted`` is its ``perf_counter`` time when write latency is timed.
    """

    future: asyncio.Future[Any]
    ops: Sequence[Op] = ()
    sync: bool = False
    size: int = field(default=0)
    then: Callable[[BaseException | None], None] | None = None
    submitted: float = 0.0


@dataclass(slots=True)
class Plan:
    """The net effect of the accepted batches of one group, as ready statement parameters.

    A row is in at most one of a table's two dicts (its last write wins), so the deletes
    and the puts of a group can run in any order.
    """

    versions: dict[RecordKey, int] = field(default_factory=dict)
    bases: dict[RecordKey, int] = field(default_factory=dict)  # versions the group starts from
    record_puts: dict[RecordKey, tuple[str, str, int, bytes]] = field(default_factory=dict)
    record_dels: dict[RecordKey, RecordKey] = field(default_factory=dict)
    item_puts: dict[ItemKey, tuple[str, str, str, bytes, int | None]] = field(default_factory=dict)
    item_dels: dict[ItemKey, ItemKey] = field(default_factory=dict)


class Writer:
    """Owns the SQLite write connection of a store."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._helper: sqlite3.Connection | None = None
        self._versions: dict[RecordKey, int] = {}
        self._data_version: int | None = None
        self.commits = 0
        self.max_group = 0

    def connection(self) -> sqlite3.Connection:
        """The write connection, opened on first use; the file is checked to be ours
        (and initialised if new) before anything is written to it."""
        if self._conn is None:
            try:
                schema.check_location(self._path)
            except schema.SchemaError as exc:
                raise open_error(exc) from None
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            try:
                schema.prepare(conn, self._path)
                schema.configure(conn)  # checkpoints: the helper thread / writer process
            except schema.SchemaError as exc:
                conn.close()
                raise open_error(exc) from None
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def call(self, fn: Callable[[sqlite3.Connection], Any], *, writes: bool = False) -> Any:
        """Run a read or maintenance function on the connection (StoreError on failure)."""
        if writes:
            self._versions.clear()
        try:
            return fn(self.connection())
        except sqlite3.Error as exc:
            self._versions.clear()
            raise store_error(exc) from exc

    def commit(self, jobs: list[Job]) -> list[tuple[Job, Any, BaseException | None]]:
        """Commit the batches of ``jobs`` in one transaction; a result per job."""
        try:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                results = self._plan_and_write(conn, jobs)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, StoreError) as exc:
            self._versions.clear()
            err = store_error(exc) if isinstance(exc, sqlite3.Error) else exc
            return [(job, None, err) for job in jobs]
        self.commits += 1
        return results

    def checkpoint(self) -> bool:
        """A maintenance round (:func:`~._sqlite_schema.maintain`: WAL checkpoint, bounded
        incremental vacuum) on the helper connection (helper thread); False on error."""
        try:
            if self._helper is None:
                self._helper = sqlite3.connect(self._path, isolation_level=None)
                self._helper.execute(f"PRAGMA busy_timeout={schema.BUSY_TIMEOUT_MS}")
                self._helper.execute(f"PRAGMA journal_size_limit={schema.WAL_LIMIT_BYTES}")
            schema.maintain(self._helper, self._path)
        except sqlite3.Error:
            return False
        return True

    def sync_wal(self) -> None:
        """fsync the WAL file: every commit made before the call survives power loss."""
        schema.fsync_wal(self._path)

    def close_helper(self) -> None:
        """Close the helper connection (on the helper thread)."""
        if self._helper is not None:
            self._helper.close()
            self._helper = None

    def close(self) -> None:
        """Close the write connection (SQLite checkpoints the WAL as it closes)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- planning ----------------------------------------------------------------------

    def _plan_and_write(
        self, conn: sqlite3.Connection, jobs: list[Job]
    ) -> list[tuple[Job, Any, BaseException | None]]:
        data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        if data_version != self._data_version or len(self._versions) > MAX_CACHED:
            self._versions.clear()  # another connection wrote: versions must be re-read
            self._data_version = data_version
        plan, results = self.plan(conn, jobs)
        _write_plan(conn, plan)
        return results

    def forget_versions(self) -> None:
        """Drop the version cache (the file was written by someone else)."""
        self._versions.clear()

    def cached_versions(self) -> int:
        """How many record versions the cache holds."""
        return len(self._versions)

    def plan(
        self, conn: sqlite3.Connection, jobs: list[Job]
    ) -> tuple[Plan, list[tuple[Job, Any, BaseException | None]]]:
        """Plan ``jobs`` in order against the version cache (misses are read on ``conn``)."""
        self.max_group = max(self.max_group, len(jobs))
        plan = Plan()
        results: list[tuple[Job, Any, BaseException | None]] = []
        for job in jobs:
            try:
                results.append((job, self._plan_batch(conn, plan, job.ops), None))
            except StoreError as exc:  # a failed compare-and-set or a bad op: this batch only
                results.append((job, None, exc))
        self._versions.update(plan.versions)
        return plan, results

    def _plan_batch(self, conn: sqlite3.Connection, plan: Plan, ops: Sequence[Op]) -> WriteResult:
        versions: dict[RecordKey, int] = {}
        planned_versions, cached = plan.versions, self._versions
        for op in ops:  # check every compare-and-set before touching the plan
            cls = type(op)
            if cls is PutItem or cls is DeleteItem:
                continue
            if cls is Put or cls is Delete or cls is Fence:
                key = (op.namespace, op.key)  # type: ignore[union-attr]
                current = versions.get(key)
                if current is None:  # the group's own version first, then the cache
                    current = planned_versions.get(key)
                    if current is None:
                        current = cached.get(key)
                        if current is None:
                            current = self._version(conn, plan, key)
                        else:
                            plan.bases[key] = current
                if cls is Fence:
                    if op.token != current:  # type: ignore[union-attr]
                        raise VersionConflict(
                            f"{key[0]}/{key[1]}: fenced at version {op.token}, "  # type: ignore[union-attr]
                            f"found {current}",
                            context={"namespace": key[0], "key": key[1]},
                        )
                    versions.setdefault(key, current)  # (a base the commit rechecks)
                    continue
                expected = op.expected_version  # type: ignore[union-attr]
                if expected is not None and expected != current:
                    raise VersionConflict(
                        f"{key[0]}/{key[1]}: expected version {expected}, found {current}",
                        context={"namespace": key[0], "key": key[1]},
                    )
                versions[key] = current + 1 if cls is Put else 0
            else:
                raise StoreError(f"not a store operation: {op!r}", retryable=False)
        item_puts, item_dels = plan.item_puts, plan.item_dels
        record_puts, record_dels = plan.record_puts, plan.record_dels
        written: dict[RecordKey, int] = {}
        for op in ops:
            cls = type(op)
            if cls is PutItem:
                ikey = (op.namespace, op.collection, op.item)  # type: ignore[union-attr]
                if item_dels:
                    item_dels.pop(ikey, None)
                item_puts[ikey] = (*ikey, op.data, op.order)  # type: ignore[union-attr]
            elif cls is DeleteItem:
                ikey = (op.namespace, op.collection, op.item)  # type: ignore[union-attr]
                item_puts.pop(ikey, None)
                item_dels[ikey] = ikey
            elif cls is Put:
                key = (op.namespace, op.key)  # type: ignore[union-attr]
                if record_dels:
                    record_dels.pop(key, None)
                version = written[key] = versions[key]
                record_puts[key] = (key[0], key[1], version, op.data)  # type: ignore[union-attr]
            elif cls is Delete:
                key = (op.namespace, op.key)  # type: ignore[union-attr]
                record_puts.pop(key, None)
                record_dels[key] = key
                written[key] = versions[key]
        planned_versions.update(written)
        return WriteResult(written)

    def _version(self, conn: sqlite3.Connection, plan: Plan, key: RecordKey) -> int:
        """The version of a record neither the group nor the cache knows: read it."""
        row = conn.execute(schema.SELECT_VERSION, key).fetchone()
        found = int(row[0]) if row else 0
        self._versions[key] = found
        plan.bases[key] = found
        return found


def _write_plan(conn: sqlite3.Connection, plan: Plan) -> None:
    schema.write_group(conn, plan_rows(plan))


def plan_rows(plan: Plan) -> tuple[Any, Any, Any, Any]:
    """The plan's row lists in :data:`~._sqlite_schema.GROUP_STATEMENTS` order."""
    return (
        plan.record_puts.values(),
        plan.record_dels.values(),
        plan.item_dels.values(),
        plan.item_puts.values(),
    )


class DrainWaiters:
    """Callers of a writer link's ``drain``: woken once no group is in flight."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    async def wait(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        """Wait for the next :meth:`release` (``TimeoutError`` after ``timeout`` s)."""
        fut = loop.create_future()
        self._waiters.append(fut)
        async with asyncio.timeout(timeout):
            await fut

    def release(self) -> None:
        """Nothing is in flight: wake every waiter."""
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
