"""The SQLite writer process: executes planned groups sent by a store over a pipe.

``python -P .../_writer_proc.py <database>`` (stdlib and msgspec only, so it starts
without importing the library; the schema, statements and framing come from
:mod:`bastion.persistence._sqlite_schema`, loaded by path). The store has checked and
prepared the file before it starts this process. Frames on both pipes are a 4-byte
little-endian length and a msgpack body, never pickle:

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
import importlib.util
import os
import signal
import sqlite3
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import msgspec


def _load_schema() -> ModuleType:
    """The store's schema module, loaded by path: this script runs outside the package."""
    path = Path(__file__).with_name("_sqlite_schema.py")
    spec = importlib.util.spec_from_file_location("_bastion_sqlite_schema", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from bastion.persistence import _sqlite_schema as schema
else:
    schema = _load_schema()
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder().decode


def _frame(message: Any) -> bytes:
    return schema.frame(_encode(message))


def _split(buf: bytearray) -> list[Any]:
    """Remove and decode the complete frames at the start of ``buf``."""
    return [_decode(body) for body in schema.split_frames(buf)]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _open(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    schema.configure(conn)
    return conn


def _commit(conn: sqlite3.Connection, groups: list[Any], path: str) -> list[Any]:
    """One transaction for ``groups``; an ack per group."""
    acks: list[Any] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for gid, _sync, checks, *rows in groups:
                if not schema.versions_hold(conn, checks):
                    acks.append([gid, 1, "the file was written by another connection"])
                    continue
                schema.write_group(conn, rows)
                acks.append([gid, 0, ""])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        return [[g[0], 2, f"sqlite: {exc}"] for g in groups]
    if any(g[1] for g in groups):
        schema.fsync_wal(path)
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
        if commits % schema.CHECKPOINT_EVERY == 0:
            with contextlib.suppress(sqlite3.Error):  # busy: retried after more commits
                schema.maintain(conn, path)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
