"""The SQLite writer process: executes planned groups sent by a store over a pipe.

``python -P .../_writer_proc.py <database>`` (stdlib and msgspec only, so it starts
without importing the library). Frames on both pipes are a 4-byte little-endian length
and a msgpack body, never pickle:

* stdin, one per planned group: ``[gid, sync, checks, record_puts, record_dels,
  item_dels, item_puts]``; ``checks`` are ``[ns, key, version]`` triples, the versions
  the store planned the group from;
* stdout: ``[0, 0, ""]`` once the connection is open, then ``[gid, status, text]`` per
  group after its commit (status 0 committed, 1 a check failed: someone else wrote the
  file, 2 an SQLite error). A ``sync`` group is acknowledged after an fsync of the WAL.

Every group that arrived before a read is committed together (one transaction, one ack
each). On end of input (the store closed, or its process died) the complete frames
received are committed and the process exits; a partial frame is dropped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import sys
from typing import Any

import msgspec

_LEN = 4
_CHECKPOINT_EVERY = 64
_VERSION = "SELECT version FROM records WHERE ns = ? AND key = ?"
_STATEMENTS = (
    "INSERT OR REPLACE INTO records (ns, key, version, data) VALUES (?, ?, ?, ?)",
    "DELETE FROM records WHERE ns = ? AND key = ?",
    "DELETE FROM items WHERE ns = ? AND coll = ? AND item = ?",
    "INSERT OR REPLACE INTO items (ns, coll, item, data) VALUES (?, ?, ?, ?)",
)
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


def _frame(message: Any) -> bytes:
    body = _encode(message)
    return len(body).to_bytes(_LEN, "little") + body


def _split(buf: bytearray) -> list[Any]:
    """Remove and decode the complete frames at the start of ``buf``."""
    out, pos = [], 0
    while len(buf) - pos >= _LEN:
        size = int.from_bytes(buf[pos:pos + _LEN], "little")
        if len(buf) - pos - _LEN < size:
            break
        out.append(_decode(buf[pos + _LEN:pos + _LEN + size]))
        pos += _LEN + size
    del buf[:pos]
    return out


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def _checks_hold(conn: sqlite3.Connection, checks: list[list[Any]]) -> bool:
    for ns, key, version in checks:
        row = conn.execute(_VERSION, (ns, key)).fetchone()
        if (int(row[0]) if row else 0) != version:
            return False
    return True


def _commit(conn: sqlite3.Connection, groups: list[Any], path: str) -> list[Any]:
    """One transaction for ``groups``; an ack per group."""
    acks: list[Any] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for gid, _sync, checks, *rows in groups:
                if not _checks_hold(conn, checks):
                    acks.append([gid, 1, "the file was written by another connection"])
                    continue
                for stmt, params in zip(_STATEMENTS, rows, strict=True):
                    if params:
                        conn.executemany(stmt, params)
                acks.append([gid, 0, ""])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        return [[g[0], 2, f"sqlite: {exc}"] for g in groups]
    if any(g[1] for g in groups):
        fd = os.open(path + "-wal", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return acks


def main(path: str) -> int:
    """Serve the store on stdin/stdout until end of input."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    out = sys.stdout.fileno()
    try:
        conn = _open(path)
    except sqlite3.Error as exc:
        _write_all(out, _frame([0, 2, f"sqlite: {exc}"]))
        return 1
    _write_all(out, _frame([0, 0, ""]))
    buf, commits, eof = bytearray(), 0, False
    while not eof:
        chunk = os.read(0, 1 << 20)
        eof = not chunk
        buf += chunk
        groups = _split(buf)
        if not groups:
            continue
        acks = _commit(conn, groups, path)
        commits += 1
        try:
            _write_all(out, b"".join(_frame(a) for a in acks))
        except BrokenPipeError:
            eof = True  # the store is gone; what was received is committed
        if commits % _CHECKPOINT_EVERY == 0:
            with contextlib.suppress(sqlite3.Error):  # busy: retried after more commits
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
