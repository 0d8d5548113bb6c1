"""The one source of truth of the SQLite state file: schema, statements, identity, framing.

Imported by the store (:mod:`bastion.persistence._sqlite`) and by its writer process
(:mod:`bastion.persistence._writer_proc`, which loads this file by path without
importing the library), so it uses the standard library only.

**Identity.** A state database is stamped ``PRAGMA application_id = APPLICATION_ID``
and ``PRAGMA user_version = SCHEMA_VERSION``. :func:`identify` tells what a file is
before anything is written to it: a missing or empty file (initialised by
:func:`prepare`), a Bastion database (its tables are checked), a Bastion database made
before the stamp existed (recognised by its exact tables and ``meta.format``, then
stamped), or anything else, which is never written to. Problems are raised as
:class:`SchemaError` (the store turns them into typed ``StoreError``\\ s).

**Framing.** The store and its writer process exchange length-prefixed frames
(:func:`frame`, :func:`split_frames`); the bodies are msgpack, encoded by each side.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Literal

APPLICATION_ID = 0x4253544E  # "BSTN" in the SQLite header: this file is a Bastion store
SCHEMA_VERSION = 2  # 2: items.ord and its index (collections read in pages, in order)
FORMAT = "1"  # meta.format, written by every version (how unstamped files are recognised)
CHECKPOINT_EVERY = 64  # commits between maintenance rounds (see maintain)
WAL_LIMIT_BYTES = 64 << 20  # journal_size_limit: a reset WAL is truncated to this size
WAL_TRUNCATE_AT = 32 << 20  # a WAL larger than this is checkpointed with TRUNCATE
VACUUM_FREE_PAGES = 256  # free pages kept before an incremental vacuum returns them
VACUUM_STEP_PAGES = 2048  # pages returned per maintenance round (8 MiB with 4 KiB pages)
BUSY_TIMEOUT_MS = 5000

TABLES: dict[str, str] = {
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "records": "CREATE TABLE records (ns TEXT NOT NULL, key TEXT NOT NULL,"
    " version INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID",
    "items": "CREATE TABLE items (ns TEXT NOT NULL, coll TEXT NOT NULL,"
    " item TEXT NOT NULL, data BLOB NOT NULL, ord INTEGER,"
    " PRIMARY KEY (ns, coll, item)) WITHOUT ROWID",
    "quarantine": "CREATE TABLE quarantine (id INTEGER PRIMARY KEY, ns TEXT NOT NULL,"
    " reason TEXT NOT NULL, at REAL NOT NULL, records INTEGER NOT NULL, items INTEGER NOT NULL)",
    "quarantine_rows": "CREATE TABLE quarantine_rows (qid INTEGER NOT NULL, key TEXT,"
    " coll TEXT, item TEXT, version INTEGER, data BLOB NOT NULL)",
}
COLUMNS: dict[str, tuple[str, ...]] = {
    "meta": ("key", "value"),
    "records": ("ns", "key", "version", "data"),
    "items": ("ns", "coll", "item", "data", "ord"),
    "quarantine": ("id", "ns", "reason", "at", "records", "items"),
    "quarantine_rows": ("qid", "key", "coll", "item", "version", "data"),
}

SELECT_VERSION = "SELECT version FROM records WHERE ns = ? AND key = ?"
PUT_RECORD = "INSERT OR REPLACE INTO records (ns, key, version, data) VALUES (?, ?, ?, ?)"
DELETE_RECORD = "DELETE FROM records WHERE ns = ? AND key = ?"
DELETE_ITEM = "DELETE FROM items WHERE ns = ? AND coll = ? AND item = ?"
PUT_ITEM = "INSERT OR REPLACE INTO items (ns, coll, item, data, ord) VALUES (?, ?, ?, ?, ?)"
#: Items that carry an order (``PutItem.order``), in that order: only those pay for it.
ORDER_INDEX = (
    "CREATE INDEX IF NOT EXISTS items_ord ON items (ns, coll, ord, item) WHERE ord IS NOT NULL"
)
#: A meta key present in files upgraded from schema 1 with items: rows without an order
#: may exist, so an ordered read checks for them (files made at schema 2 skip the check).
UNORDERED = "unordered_items"
#: Schema 1 (before ``ord``): upgraded in place when opened (:func:`prepare`).
ITEMS_V1 = ("ns", "coll", "item", "data")
#: The statements of a planned group, in the order its four row lists are written:
#: record puts, record deletes, item deletes, item puts (a row is in one list only).
GROUP_STATEMENTS = (PUT_RECORD, DELETE_RECORD, DELETE_ITEM, PUT_ITEM)
#: The same four statements taking a whole row list as one JSON array of arrays (the
#: writer thread: SQLite walks the list without the GIL). Row data travels as JSON text
#: and is stored as the bytes of its UTF-8 encoding.
GROUP_STATEMENTS_JSON = (
    "INSERT OR REPLACE INTO records (ns, key, version, data) SELECT value->>0, value->>1,"
    " value->>2, CAST(value->>3 AS BLOB) FROM json_each(?)",
    "DELETE FROM records WHERE (ns, key) IN (SELECT value->>0, value->>1 FROM json_each(?))",
    "DELETE FROM items WHERE (ns, coll, item) IN"
    " (SELECT value->>0, value->>1, value->>2 FROM json_each(?))",
    "INSERT OR REPLACE INTO items (ns, coll, item, data, ord) SELECT value->>0, value->>1,"
    " value->>2, CAST(value->>3 AS BLOB), value->>4 FROM json_each(?)",
)
#: How many ``(ns, key, version)`` checks of a JSON array do not hold (0: absent).
STALE_VERSIONS_JSON = (
    "SELECT count(*) FROM json_each(?) AS c LEFT JOIN records AS r"
    " ON r.ns = c.value->>0 AND r.key = c.value->>1"
    " WHERE coalesce(r.version, 0) != c.value->>2"
)

FRAME_HEADER = 4  # bytes of little-endian length before each frame body

Kind = Literal["new", "ours", "unstamped"]


class SchemaError(Exception):
    """The file cannot be used as a state database; ``problem`` says why.

    ``problem`` is ``"foreign"`` (not ours: never written to), ``"damaged"`` (ours but
    incomplete), ``"newer"`` (a schema this code does not know) or ``"unusable"``.
    """

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def refuse_in_memory(path: str) -> None:
    """ValueError for the paths SQLite treats as a private in-memory or temporary database.

    The store's connections (and its writer process) must share one file, so these would
    open separate empty databases and every write would fail.
    """
    if path in ("", ":memory:"):
        raise ValueError(
            f"SQLiteStore needs a file path, not {path!r}; for state kept in memory use "
            "MemoryStore (it survives actor crashes, not the process)"
        )


def check_location(path: str) -> None:
    """SchemaError if ``path`` cannot be a database file (before SQLite creates anything)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise SchemaError("unusable", f"{path}: the directory {folder} does not exist")
    if os.path.isdir(path):
        raise SchemaError("unusable", f"{path}: is a directory, not a state database")


def configure(conn: sqlite3.Connection) -> None:
    """Per-connection settings of a write connection (WAL is a property of the file)."""
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run off the commit path
    conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")


def maintain(conn: sqlite3.Connection, path: str) -> None:
    """One maintenance round on a write connection, between commits (never on the loop).

    A PASSIVE checkpoint (or TRUNCATE once the WAL passed :data:`WAL_TRUNCATE_AT`), then,
    in a file made with ``auto_vacuum=INCREMENTAL``, an incremental vacuum that returns up
    to :data:`VACUUM_STEP_PAGES` free pages to the file system once more than
    :data:`VACUUM_FREE_PAGES` are free. Raises sqlite3.Error (busy: retried next round).
    """
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        if free > VACUUM_FREE_PAGES:
            # executescript steps the pragma to completion (execute frees one page only)
            conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})")
    try:
        wal = os.path.getsize(path + "-wal")
    except OSError:
        wal = 0
    mode = "TRUNCATE" if wal > WAL_TRUNCATE_AT else "PASSIVE"
    conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()


def identify(conn: sqlite3.Connection, path: str) -> Kind:
    """What the file behind ``conn`` is, by reading only; SchemaError if it is not usable."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
    except sqlite3.DatabaseError as exc:
        if _has_sqlite_header(path):
            raise SchemaError(
                "unusable", f"{path}: unreadable SQLite database ({exc}); left untouched"
            ) from exc
        raise SchemaError(
            "foreign", f"{path}: not a Bastion state database (not an SQLite file); left untouched"
        ) from exc
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise SchemaError(
                "newer",
                f"{path}: written by a newer Bastion (schema "
                f"{version}; this code knows {SCHEMA_VERSION})",
            )
        _check_tables(conn, path, tables)
        return "ours"
    if app_id == 0 and not tables:
        return "new"
    if app_id == 0 and tables == set(TABLES) and _meta_format(conn) == FORMAT:
        _check_tables(conn, path, tables)
        return "unstamped"
    what = f"application id {app_id:#x}" if app_id else f"tables {', '.join(sorted(tables))}"
    raise SchemaError(
        "foreign",
        f"{path}: an SQLite database of another application "
        f"({what}), not a Bastion state database; left untouched",
    )


def prepare(conn: sqlite3.Connection, path: str) -> None:
    """Make ``conn``'s file a ready state database, or raise SchemaError without writing."""
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # a setting: reads no file
    kind = identify(conn, path)
    if kind == "new":  # must precede the first table; freed pages can then be returned
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    if kind == "ours":
        fmt = _meta_format(conn)
        if fmt is None:
            raise SchemaError(
                "damaged", f"{path}: damaged Bastion state database: its format entry is missing"
            )
        if fmt != FORMAT:
            raise SchemaError(
                "newer", f"{path}: unknown state database format {fmt!r} (this code knows {FORMAT})"
            )
    if kind != "ours" or _version(conn) < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if identify(conn, path) == "new":  # still empty now that we hold the lock
                for stmt in TABLES.values():
                    conn.execute(stmt)
                conn.execute("INSERT INTO meta (key, value) VALUES ('format', ?)", (FORMAT,))
            _upgrade(conn)  # schema 1 (or unstamped) to this one
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    conn.execute("PRAGMA journal_mode=WAL")


def is_ours(path: str) -> bool | None:
    """True if ``path`` is a Bastion state database, None if it is missing or empty.

    Opens the file read-only; raises SchemaError if it is not ours.
    """
    if not os.path.exists(path) or (os.path.isfile(path) and os.path.getsize(path) == 0):
        return None
    if os.path.isdir(path):
        raise SchemaError("unusable", f"{path}: is a directory, not a state database")
    uri = "file:" + _quote(os.path.abspath(path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise SchemaError("unusable", f"{path}: cannot be opened ({exc})") from exc
    try:
        identify(conn, path)
    except SchemaError as exc:
        if exc.problem not in ("damaged", "newer"):  # damaged or newer: still ours
            raise
    finally:
        conn.close()
    return True


def write_group(conn: sqlite3.Connection, rows: Sequence[Iterable[Any]]) -> None:
    """Execute one planned group's four row lists (see :data:`GROUP_STATEMENTS`)."""
    for stmt, params in zip(GROUP_STATEMENTS, rows, strict=True):
        if params:
            conn.executemany(stmt, params)


def write_group_json(conn: sqlite3.Connection, rows: Sequence[str]) -> None:
    """Execute one planned group's four row lists given as JSON arrays, one statement
    each (see :data:`GROUP_STATEMENTS_JSON`; ``"[]"``: nothing to do)."""
    for stmt, param in zip(GROUP_STATEMENTS_JSON, rows, strict=True):
        if param != "[]":
            conn.execute(stmt, (param,))


def versions_hold_json(conn: sqlite3.Connection, checks: str) -> bool:
    """Whether every ``(ns, key, version)`` of the JSON array ``checks`` still holds."""
    if checks == "[]":
        return True
    return int(conn.execute(STALE_VERSIONS_JSON, (checks,)).fetchone()[0]) == 0


def versions_hold(conn: sqlite3.Connection, checks: Iterable[Sequence[Any]]) -> bool:
    """Whether every ``(ns, key, version)`` still has that version (0: absent)."""
    for ns, key, version in checks:
        row = conn.execute(SELECT_VERSION, (ns, key)).fetchone()
        if (int(row[0]) if row else 0) != version:
            return False
    return True


def fsync_wal(path: str) -> None:
    """fsync the WAL file: every commit made before the call survives power loss."""
    fd = os.open(path + "-wal", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def frame(body: bytes) -> bytes:
    """``body`` with its length prefix."""
    return len(body).to_bytes(FRAME_HEADER, "little") + body


def split_frames(buf: bytearray) -> list[bytes]:
    """Remove the complete frames at the start of ``buf`` and return their bodies."""
    out, pos = [], 0
    while len(buf) - pos >= FRAME_HEADER:
        size = int.from_bytes(buf[pos : pos + FRAME_HEADER], "little")
        if len(buf) - pos - FRAME_HEADER < size:
            break
        out.append(bytes(buf[pos + FRAME_HEADER : pos + FRAME_HEADER + size]))
        pos += FRAME_HEADER + size
    del buf[:pos]
    return out


def _check_tables(conn: sqlite3.Connection, path: str, tables: set[str]) -> None:
    missing = [t for t in TABLES if t not in tables]
    if missing:
        raise SchemaError(
            "damaged", f"{path}: damaged Bastion state database: table {', '.join(missing)} missing"
        )
    for table, expected in COLUMNS.items():
        columns = tuple(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
        if table == "items" and columns == ITEMS_V1 and _version(conn) < 2:
            continue  # schema 1: upgraded when opened for writing
        if columns != expected:
            raise SchemaError(
                "damaged",
                f"{path}: damaged Bastion state database: table "
                f"{table} has columns {', '.join(columns)}",
            )


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _upgrade(conn: sqlite3.Connection) -> None:
    """Schema 1 to 2 (inside the caller's write transaction): items get ``ord``. Rows
    written before have none; readers in order fall back to reading them all."""
    columns = tuple(r[1] for r in conn.execute("PRAGMA table_info(items)"))
    if columns == ITEMS_V1:
        conn.execute("ALTER TABLE items ADD COLUMN ord INTEGER")
        if conn.execute("SELECT 1 FROM items LIMIT 1").fetchone() is not None:
            conn.execute(f"INSERT OR REPLACE INTO meta (key, value) VALUES ('{UNORDERED}', '1')")
    conn.execute(ORDER_INDEX)


def _meta_format(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def _has_sqlite_header(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _quote(path: str) -> str:
    return path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
