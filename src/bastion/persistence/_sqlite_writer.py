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
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bastion.persistence._errors import StoreError, VersionConflict
from bastion.persistence._protocol import Delete, Op, Put, PutItem, WriteResult

__all__ = ["Job", "Writer"]

FORMAT = "1"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (ns TEXT NOT NULL, key TEXT NOT NULL,"
    " version INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS items (ns TEXT NOT NULL, coll TEXT NOT NULL,"
    " item TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (ns, coll, item)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS quarantine (id INTEGER PRIMARY KEY, ns TEXT NOT NULL,"
    " reason TEXT NOT NULL, at REAL NOT NULL, records INTEGER NOT NULL, items INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS quarantine_rows (qid INTEGER NOT NULL, key TEXT, coll TEXT,"
    " item TEXT, version INTEGER, data BLOB NOT NULL)",
)

_PUT_RECORD = "INSERT OR REPLACE INTO records (ns, key, version, data) VALUES (?, ?, ?, ?)"
_DEL_RECORD = "DELETE FROM records WHERE ns = ? AND key = ?"
_PUT_ITEM = "INSERT OR REPLACE INTO items (ns, coll, item, data) VALUES (?, ?, ?, ?)"
_DEL_ITEM = "DELETE FROM items WHERE ns = ? AND coll = ? AND item = ?"
_VERSION = "SELECT version FROM records WHERE ns = ? AND key = ?"
_MAX_CACHED = 50_000

RecordKey = tuple[str, str]
ItemKey = tuple[str, str, str]


@dataclass(slots=True)
class Job:
    """One write batch waiting for its group commit."""

    future: asyncio.Future[Any]
    ops: Sequence[Op] = ()
    sync: bool = False
    size: int = field(default=0)


@dataclass(slots=True)
class _Plan:
    """The net effect of the accepted batches of one group."""

    versions: dict[RecordKey, int] = field(default_factory=dict)
    records: dict[RecordKey, bytes | None] = field(default_factory=dict)
    items: dict[ItemKey, bytes | None] = field(default_factory=dict)


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
        """The write connection, opened (and the schema checked) on first use."""
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=5000")
                conn.execute("PRAGMA wal_autocheckpoint=0")  # the helper thread checkpoints
                for stmt in _SCHEMA:
                    conn.execute(stmt)
                _check_format(conn)
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
            raise _store_error(exc) from exc

    def commit(self, jobs: list[Job]) -> list[tuple[Job, Any, BaseException | None]]:
        """Commit the batches of ``jobs`` in one transaction; a result per job."""
        self.max_group = max(self.max_group, len(jobs))
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
            err = _store_error(exc) if isinstance(exc, sqlite3.Error) else exc
            return [(job, None, err) for job in jobs]
        self.commits += 1
        return results

    def checkpoint(self) -> bool:
        """A PASSIVE WAL checkpoint on the helper connection (helper thread); False on error."""
        try:
            if self._helper is None:
                self._helper = sqlite3.connect(self._path, isolation_level=None)
                self._helper.execute("PRAGMA busy_timeout=5000")
            self._helper.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            return False
        return True

    def sync_wal(self) -> None:
        """fsync the WAL file: every commit made before the call survives power loss."""
        fd = os.open(self._path + "-wal", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

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

    def _plan_and_write(self, conn: sqlite3.Connection,
                        jobs: list[Job]) -> list[tuple[Job, Any, BaseException | None]]:
        data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        if data_version != self._data_version or len(self._versions) > _MAX_CACHED:
            self._versions.clear()  # another connection wrote: versions must be re-read
            self._data_version = data_version
        plan = _Plan()
        results: list[tuple[Job, Any, BaseException | None]] = []
        for job in jobs:
            try:
                results.append((job, self._plan_batch(conn, plan, job.ops), None))
            except VersionConflict as exc:
                results.append((job, None, exc))
        _write_plan(conn, plan)
        self._versions.update(plan.versions)
        return results

    def _version(self, conn: sqlite3.Connection, plan: _Plan, key: RecordKey) -> int:
        found = plan.versions.get(key)
        if found is None:
            found = self._versions.get(key)
        if found is None:
            row = conn.execute(_VERSION, key).fetchone()
            found = int(row[0]) if row else 0
            self._versions[key] = found
        return found

    def _plan_batch(self, conn: sqlite3.Connection, plan: _Plan, ops: Sequence[Op]) -> WriteResult:
        versions: dict[RecordKey, int] = {}
        for op in ops:  # check every compare-and-set before touching the plan
            if isinstance(op, Put | Delete):
                key = (op.namespace, op.key)
                current = versions.get(key)
                if current is None:
                    current = self._version(conn, plan, key)
                if op.expected_version is not None and op.expected_version != current:
                    raise VersionConflict(
                        f"{op.namespace}/{op.key}: expected version {op.expected_version}, "
                        f"found {current}", context={"namespace": op.namespace, "key": op.key})
                versions[key] = current + 1 if isinstance(op, Put) else 0
        for op in ops:
            if isinstance(op, PutItem):
                plan.items[(op.namespace, op.collection, op.item)] = op.data
            elif isinstance(op, Put):
                plan.records[(op.namespace, op.key)] = op.data
            elif isinstance(op, Delete):
                plan.records[(op.namespace, op.key)] = None
            else:
                plan.items[(op.namespace, op.collection, op.item)] = None
        plan.versions.update(versions)
        return WriteResult(versions)


def _write_plan(conn: sqlite3.Connection, plan: _Plan) -> None:
    puts = [(k[0], k[1], plan.versions[k], d) for k, d in plan.records.items() if d is not None]
    if puts:
        conn.executemany(_PUT_RECORD, puts)
    dels = [k for k, d in plan.records.items() if d is None]
    if dels:
        conn.executemany(_DEL_RECORD, dels)
    item_puts = [(*k, d) for k, d in plan.items.items() if d is not None]
    if item_puts:
        conn.executemany(_PUT_ITEM, item_puts)
    item_dels = [k for k, d in plan.items.items() if d is None]
    if item_dels:
        conn.executemany(_DEL_ITEM, item_dels)


def _check_format(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('format', ?)", (FORMAT,))
    row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    if row[0] != FORMAT:
        raise StoreError(f"unknown state database format {row[0]!r} (this code knows {FORMAT})",
                         retryable=False)


def _store_error(exc: sqlite3.Error) -> StoreError:
    err = StoreError(f"sqlite: {exc}", context={"sqlite_error": type(exc).__name__})
    err.__cause__ = exc
    return err
