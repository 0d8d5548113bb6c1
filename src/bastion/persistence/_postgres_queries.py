"""The read, drop, quarantine and paged-load queries of the PostgreSQL store.

Each takes a psycopg connection (from the store's pool) and the store's
:class:`~bastion.persistence._postgres_sql.Statements`; the ones that read several
statements consistently, or write, run inside a transaction the store opens.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from bastion.persistence._paged import Cursor, NamespaceHead, PageRow
from bastion.persistence._postgres_sql import Statements
from bastion.persistence._protocol import NamespaceData, QuarantineEntry, Record

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    Conn = AsyncConnection[Any]

__all__ = [
    "drop_namespace",
    "list_namespaces",
    "list_quarantined",
    "load_head",
    "load_items",
    "load_namespace",
    "load_page",
    "quarantine_namespace",
    "read_item",
    "read_record",
]


async def read_record(conn: Conn, sql: Statements, ns: str, key: str) -> Record | None:
    """One record, or None."""
    cur = await conn.execute(sql.read_record, (ns, key))
    row = await cur.fetchone()
    return Record(bytes(row[0]), int(row[1])) if row else None


async def read_item(conn: Conn, sql: Statements, ns: str, coll: str, item: str) -> bytes | None:
    """One item's bytes, or None."""
    cur = await conn.execute(sql.read_item, (ns, coll, item))
    row = await cur.fetchone()
    return bytes(row[0]) if row else None


async def _records(conn: Conn, sql: Statements, ns: str) -> dict[str, Record]:
    cur = await conn.execute(sql.load_records, (ns,))
    return {str(k): Record(bytes(d), int(v)) for k, v, d in await cur.fetchall()}


async def load_namespace(conn: Conn, sql: Statements, ns: str) -> NamespaceData:
    """Records and collections of ``ns`` (call in a transaction: one snapshot)."""
    records = await _records(conn, sql, ns)
    collections: dict[str, list[tuple[str, bytes]]] = {}
    cur = await conn.execute(sql.load_items, (ns,))
    for coll, item, data in await cur.fetchall():
        collections.setdefault(coll, []).append((item, bytes(data)))
    return NamespaceData(ns, records, collections)


async def list_namespaces(conn: Conn, sql: Statements, prefix: str) -> list[str]:
    """Namespaces with records or items, sorted (byte order)."""
    cur = await conn.execute(sql.namespaces, (prefix, prefix))
    return [str(r[0]) for r in await cur.fetchall()]


async def drop_namespace(conn: Conn, sql: Statements, ns: str) -> None:
    """Delete all rows of ``ns`` (call in a transaction)."""
    await conn.execute(sql.drop_records, (ns,))
    await conn.execute(sql.drop_items, (ns,))


async def quarantine_namespace(
    conn: Conn, sql: Statements, ns: str, reason: str, at: float
) -> QuarantineEntry:
    """Copy the rows of ``ns`` into the quarantine tables and delete them (in a transaction)."""
    nrec = await _scalar(conn, sql.count_records, (ns,))
    nitems = await _scalar(conn, sql.count_items, (ns,))
    qid = await _scalar(conn, sql.add_quarantine, (ns, reason, at, nrec, nitems))
    await conn.execute(sql.quarantine_records, (qid, ns))
    await conn.execute(sql.quarantine_items, (qid, ns))
    await drop_namespace(conn, sql, ns)
    return QuarantineEntry(ns, reason, at, nrec, nitems)


async def list_quarantined(conn: Conn, sql: Statements, prefix: str) -> list[QuarantineEntry]:
    """Quarantine entries whose namespace starts with ``prefix``, oldest first."""
    cur = await conn.execute(sql.quarantined, (prefix,))
    return [
        QuarantineEntry(str(r[0]), str(r[1]), float(r[2]), int(r[3]), int(r[4]))
        for r in await cur.fetchall()
    ]


async def load_head(
    conn: Conn,
    sql: Statements,
    ns: str,
    ordered: str,
    limit: int,
    shift: int,
    skip: Collection[str],
) -> NamespaceHead:
    """Records, collections but ``ordered`` and ``skip``, the first page of ``ordered``
    (all of it, in key order, if it holds rows without an order); in a transaction."""
    records = await _records(conn, sql, ns)
    collections: dict[str, list[tuple[str, bytes]]] = {}
    cur = await conn.execute(sql.load_items_except, (ns, [ordered, *skip]))
    for coll, item, data in await cur.fetchall():
        collections.setdefault(coll, []).append((item, bytes(data)))
    data = NamespaceData(ns, records, collections)
    cur = await conn.execute(sql.unordered, (ns, ordered))
    if await cur.fetchone() is not None:
        cur = await conn.execute(sql.collection, (ns, ordered))
        rows: list[PageRow] = [(str(i), bytes(d), None) for i, d in await cur.fetchall()]
        return NamespaceHead(data, rows, {0: len(rows)}, True)
    cur = await conn.execute(sql.first_page, (ns, ordered, limit))
    rows = [(str(i), bytes(d), int(o)) for i, d, o in await cur.fetchall()]
    cur = await conn.execute(sql.bands, (shift, ns, ordered))
    bands = {int(b): int(n) for b, n in await cur.fetchall()}
    return NamespaceHead(data, rows, bands, len(rows) == sum(bands.values()))


async def load_page(
    conn: Conn, sql: Statements, ns: str, coll: str, after: Cursor, limit: int
) -> list[PageRow]:
    """The next rows of an ordered collection after ``after``."""
    cur = await conn.execute(sql.page, (ns, coll, after[0], after[1], limit))
    return [(str(i), bytes(d), int(o)) for i, d, o in await cur.fetchall()]


async def load_items(
    conn: Conn, sql: Statements, ns: str, coll: str, after: str, limit: int
) -> list[tuple[str, bytes]]:
    """The next items of a collection with a key after ``after``, by key."""
    cur = await conn.execute(sql.items_after, (ns, coll, after, limit))
    return [(str(i), bytes(d)) for i, d in await cur.fetchall()]


async def _scalar(conn: Conn, statement: str, params: tuple[Any, ...]) -> int:
    cur = await conn.execute(statement, params)
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])
