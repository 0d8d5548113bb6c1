"""The SQLite writer: owns the connection, group-commits batches in order.

The store hands it lists of jobs (write batches, reads, maintenance) on its single
writer thread. Consecutive write batches, from any number of agents, commit in one
transaction; each batch runs inside its own SAVEPOINT, so a compare-and-set failure
rejects that batch only. Jobs run in submission order, so a read sees every batch
submitted before it.
"""

from __future__ import annotations

import asyncio
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

_UPSERT = (
    "INSERT INTO records (ns, key, version, data) VALUES (?, ?, 1, ?) ON CONFLICT (ns, key)"
    " DO UPDATE SET version = version + 1, data = excluded.data RETURNING version"
)
_CAS_UPDATE = (
    "UPDATE records SET version = version + 1, data = ? WHERE ns = ? AND key = ? AND version = ?"
)
_PUT_ITEM = "INSERT OR REPLACE INTO items (ns, coll, item, data) VALUES (?, ?, ?, ?)"
_DEL_ITEM = "DELETE FROM items WHERE ns = ? AND coll = ? AND item = ?"


@dataclass(slots=True)
class Job:
    """One unit of work for the writer: a write batch or a function of the connection."""

    future: asyncio.Future[Any]
    ops: Sequence[Op] = ()
    sync: bool = False
    fn: Callable[[sqlite3.Connection], Any] | None = None
    size: int = field(default=0)


class Writer:
    """Owns the SQLite connection; :meth:`flush` runs on the store's single writer thread."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._full_sync = False
        self.commits = 0
        self.max_group = 0

    def flush(self, jobs: list[Job]) -> list[tuple[Job, Any, BaseException | None]]:
        """Run ``jobs`` in order: consecutive write batches share one transaction."""
        results: list[tuple[Job, Any, BaseException | None]] = []
        group: list[Job] = []
        for job in jobs:
            if job.fn is None:
                group.append(job)
                continue
            if group:
                results.extend(self._commit(group))
                group = []
            results.append(self._call(job))
        if group:
            results.extend(self._commit(group))
        return results

    def close(self) -> None:
        """Close the connection (on the writer thread)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _call(self, job: Job) -> tuple[Job, Any, BaseException | None]:
        assert job.fn is not None
        try:
            return (job, job.fn(self._connection()), None)
        except sqlite3.Error as exc:
            return (job, None, _store_error(exc))
        except StoreError as exc:
            return (job, None, exc)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=5000")
                for stmt in _SCHEMA:
                    conn.execute(stmt)
                _check_format(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _commit(self, group: list[Job]) -> list[tuple[Job, Any, BaseException | None]]:
        self.max_group = max(self.max_group, len(group))
        try:
            conn = self._connection()
            self._set_sync(conn, any(j.sync for j in group))
            conn.execute("BEGIN IMMEDIATE")
            try:
                results = [self._apply_in_savepoint(conn, job) for job in group]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, StoreError) as exc:
            err = _store_error(exc) if isinstance(exc, sqlite3.Error) else exc
            return [(job, None, err) for job in group]
        self.commits += 1
        return results

    def _set_sync(self, conn: sqlite3.Connection, full: bool) -> None:
        if full != self._full_sync:
            conn.execute(f"PRAGMA synchronous={'FULL' if full else 'NORMAL'}")
            self._full_sync = full

    def _apply_in_savepoint(
        self, conn: sqlite3.Connection, job: Job
    ) -> tuple[Job, Any, BaseException | None]:
        conn.execute("SAVEPOINT batch")
        try:
            result = apply_ops(conn, job.ops)
        except VersionConflict as exc:
            conn.execute("ROLLBACK TO batch")
            conn.execute("RELEASE batch")
            return (job, None, exc)
        conn.execute("RELEASE batch")
        return (job, result, None)


def apply_ops(conn: sqlite3.Connection, ops: Sequence[Op]) -> WriteResult:
    """Apply one batch on ``conn`` (inside a transaction); VersionConflict on a CAS miss."""
    versions: dict[tuple[str, str], int] = {}
    for op in ops:
        if isinstance(op, PutItem):
            conn.execute(_PUT_ITEM, (op.namespace, op.collection, op.item, op.data))
        elif isinstance(op, Put):
            versions[(op.namespace, op.key)] = _put(conn, op)
        elif isinstance(op, Delete):
            _delete(conn, op)
            versions[(op.namespace, op.key)] = 0
        else:
            conn.execute(_DEL_ITEM, (op.namespace, op.collection, op.item))
    return WriteResult(versions)


def _put(conn: sqlite3.Connection, op: Put) -> int:
    if op.expected_version is None:
        row = conn.execute(_UPSERT, (op.namespace, op.key, op.data)).fetchone()
        return int(row[0])
    if op.expected_version == 0:
        try:
            conn.execute("INSERT INTO records (ns, key, version, data) VALUES (?, ?, 1, ?)",
                         (op.namespace, op.key, op.data))
        except sqlite3.IntegrityError:
            raise _conflict(conn, op.namespace, op.key, 0) from None
        return 1
    cur = conn.execute(_CAS_UPDATE, (op.data, op.namespace, op.key, op.expected_version))
    if cur.rowcount != 1:
        raise _conflict(conn, op.namespace, op.key, op.expected_version)
    return op.expected_version + 1


def _delete(conn: sqlite3.Connection, op: Delete) -> None:
    if op.expected_version is None:
        conn.execute("DELETE FROM records WHERE ns = ? AND key = ?", (op.namespace, op.key))
        return
    found = _version(conn, op.namespace, op.key)
    if found != op.expected_version:
        raise _conflict(conn, op.namespace, op.key, op.expected_version)
    conn.execute("DELETE FROM records WHERE ns = ? AND key = ?", (op.namespace, op.key))


def _version(conn: sqlite3.Connection, ns: str, key: str) -> int:
    row = conn.execute("SELECT version FROM records WHERE ns = ? AND key = ?", (ns, key)).fetchone()
    return int(row[0]) if row else 0


def _conflict(conn: sqlite3.Connection, ns: str, key: str, expected: int) -> VersionConflict:
    found = _version(conn, ns, key)
    return VersionConflict(f"{ns}/{key}: expected version {expected}, found {found}",
                           context={"namespace": ns, "key": key})


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
