"""The store's writer thread (``SQLiteStore.open(..., writer="thread")``).

The event loop plans each group (compare-and-set against the version cache) exactly as
for the writer process; :class:`ThreadLink` then hands the plan to one helper thread
that owns a second write connection, checks that the versions the plan started from
still hold, writes the rows and commits. The loop goes on meanwhile: the next group
collects everything submitted while this one is in flight.

**Why one statement per table.** A Python thread holds the GIL while it binds each row
of an ``executemany``, and under a busy loop every reacquisition of the GIL can wait a
whole switch interval: a row-by-row writer thread would spend its time queueing for
the loop. So each of a group's row lists travels as **one JSON array** bound to one
``INSERT … SELECT … FROM json_each(?)`` (or ``DELETE … IN (SELECT … json_each(?))``):
SQLite walks the whole list with the GIL released, and a group costs a handful of GIL
handovers however many rows it carries. Row data goes in as JSON text and comes out as
the same bytes (``CAST(… AS BLOB)`` of the UTF-8 text); a group holding data that is not
valid UTF-8 text without NUL characters (any bytes may be stored) is written row by
row instead (:func:`~._sqlite_schema.write_group`), with the same result.

Maintenance (WAL checkpoints, incremental vacuum) and fsyncs run on the same thread
between groups. The virtual-time loop of ``bastion.testing`` is told while a group is
in flight (the :class:`~bastion._core._real_work.RealWork` protocol), as for the
writer process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from bastion._core._real_work import RealWork, real_work_of
from bastion.persistence import _sqlite_schema as schema
from bastion.persistence._errors import StoreError
from bastion.persistence._sqlite_writer import DrainWaiters, Plan, plan_rows

__all__ = ["ThreadLink", "group_payload"]

AckHandler = Callable[[int, str], None]
_encode = msgspec.json.Encoder().encode
#: What one group sends to the thread: its version checks and its four row lists, either
#: as JSON texts (checks, texts, None) or, for data that is not text, as rows
#: (checks, None, rows).
Payload = tuple[str | list[Any], tuple[str, ...] | None, tuple[list[Any], ...] | None]


def group_payload(plan: Plan) -> Payload:
    """The version checks and the four row lists of ``plan`` as JSON arrays, or as plain
    row lists when some row data is not NUL-free UTF-8 text (written row by row then)."""
    record_puts, record_dels, item_dels, item_puts = plan_rows(plan)
    try:
        checks = _encode([(*k, v) for k, v in plan.bases.items()]).decode()
        records = [(ns, key, ver, _text(data)) for ns, key, ver, data in record_puts]
        items = [(ns, c, i, _text(data), order) for ns, c, i, data, order in item_puts]
        lists = (records, list(record_dels), list(item_dels), items)
        return checks, tuple(_encode(rows).decode() for rows in lists), None
    except (ValueError, TypeError, OverflowError):  # not text, or not JSON (bad key...):
        # the rows as they are; SQLite itself then accepts or refuses them, as row by row
        checks_rows = [(*k, v) for k, v in plan.bases.items()]
        return checks_rows, None, tuple(list(rows) for rows in plan_rows(plan))


def _text(data: bytes) -> str:
    if b"\x00" in data:
        raise ValueError("NUL in row data")
    return data.decode()


class ThreadLink:
    """Feeds planned groups to one writer thread with its own connection to ``path``."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used on the thread only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._real_work: RealWork | None = None
        self._pending: collections.deque[AckHandler] = collections.deque()
        self._drained = DrainWaiters()
        self._since_maintenance = 0
        self.broken: StoreError | None = None
        self.commits = 0

    @property
    def pid(self) -> int | None:
        """None: the writer is a thread of this process."""
        return None

    @property
    def in_flight(self) -> int:
        """Groups sent and not committed yet."""
        return len(self._pending)

    async def start(self, timeout: float) -> None:
        """Start the thread and open its connection."""
        self._loop = asyncio.get_running_loop()
        self._real_work = real_work_of(self._loop)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bastion-sqlite-writer")
        async with asyncio.timeout(timeout):
            await self._loop.run_in_executor(self._executor, self._open)

    def send(self, plan: Plan, sync: bool, on_ack: AckHandler) -> None:
        """Send a planned group; ``on_ack(status, text)`` runs on the loop when it is
        committed (0), rejected because the file changed under it (1) or failed (2)."""
        if self.broken is not None or self._executor is None or self._loop is None:
            on_ack(2, str(self.broken or "the sqlite writer thread is stopped"))
            return
        payload = group_payload(plan)
        self._pending.append(on_ack)
        if len(self._pending) == 1 and self._real_work is not None:
            self._real_work.real_work_started()
        self._since_maintenance += 1
        maintain = self._since_maintenance >= schema.CHECKPOINT_EVERY
        if maintain:
            self._since_maintenance = 0
        fut = self._loop.run_in_executor(self._executor, self._commit, payload, sync, maintain)
        fut.add_done_callback(self._committed)

    async def drain(self, timeout: float) -> None:
        """Wait until every group sent so far is committed."""
        if not self._pending:
            return
        assert self._loop is not None
        await self._drained.wait(self._loop, timeout)

    async def close(self, timeout: float) -> None:
        """Drain (the groups its acks send meanwhile included), close the thread's
        connection, stop the thread."""
        executor, loop = self._executor, self._loop
        if executor is None or loop is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await self.drain(timeout)
                self._executor = None  # later groups fail: the store is closed
                await loop.run_in_executor(executor, self._close_conn)
        finally:
            self._executor = None
            executor.shutdown(wait=False)  # idle once drained and closed

    # -- on the writer thread -------------------------------------------------------------

    def _open(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        schema.configure(conn)
        self._conn = conn

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _commit(self, payload: Payload, sync: bool, maintain: bool) -> tuple[int, str]:
        conn = self._conn
        if conn is None:
            return 2, "the sqlite writer thread's connection is closed"
        checks, texts, rows = payload
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if isinstance(checks, str):
                    fresh = schema.versions_hold_json(conn, checks)
                else:
                    fresh = schema.versions_hold(conn, checks)
                if not fresh:
                    conn.execute("ROLLBACK")
                    return 1, "the file was written by another connection"
                if texts is not None:
                    schema.write_group_json(conn, texts)
                else:
                    schema.write_group(conn, rows or ())
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            return 2, f"sqlite: {exc}"
        try:
            if sync:
                schema.fsync_wal(self._path)
        except OSError as exc:
            return 2, f"fsync of the WAL failed: {exc!r}"
        finally:
            if maintain:
                with contextlib.suppress(sqlite3.Error):  # busy: retried after more commits
                    schema.maintain(conn, self._path)
        return 0, ""

    # -- back on the loop -----------------------------------------------------------------

    def _committed(self, fut: asyncio.Future[tuple[int, str]]) -> None:
        if fut.cancelled():
            status, text = 2, "the sqlite writer thread was stopped"
        elif (exc := fut.exception()) is not None:
            status, text = 2, f"the sqlite writer thread failed: {exc!r}"
        else:
            status, text = fut.result()
        self.commits += status == 0
        self._pending.popleft()(status, text)
        if not self._pending:
            if self._real_work is not None:
                self._real_work.real_work_finished()
            self._drained.release()
