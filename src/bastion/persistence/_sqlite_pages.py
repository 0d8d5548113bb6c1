"""The SQLite queries of :class:`~bastion.persistence._paged.PagedLoad`.

An ordered page is a range of the partial index ``items_ord (ns, coll, ord, item)``
(only items written with an order are in it); collections are found by seeking the
primary key from one collection name to the next, so neither the head nor a page reads
the rows of a collection it does not return.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection

from bastion.persistence._paged import Cursor, NamespaceHead, PageRow
from bastion.persistence._protocol import NamespaceData, Record
from bastion.persistence._sqlite_schema import UNORDERED

__all__ = ["load_head", "load_items", "load_page"]

_PAGE = (
    "SELECT item, data, ord FROM items INDEXED BY items_ord"
    " WHERE ns = ? AND coll = ? AND ord IS NOT NULL AND (ord, item) > (?, ?)"
    " ORDER BY ord, item LIMIT ?"
)
_FIRST_PAGE = (
    "SELECT item, data, ord FROM items INDEXED BY items_ord"
    " WHERE ns = ? AND coll = ? AND ord IS NOT NULL ORDER BY ord, item LIMIT ?"
)
_NEXT_ORDER = (
    "SELECT ord FROM items INDEXED BY items_ord"
    " WHERE ns = ? AND coll = ? AND ord IS NOT NULL AND ord >= ? ORDER BY ord LIMIT 1"
)
_COUNT_RANGE = (
    "SELECT count(*) FROM items INDEXED BY items_ord"
    " WHERE ns = ? AND coll = ? AND ord IS NOT NULL AND ord >= ? AND ord < ?"
)
_UNORDERED = "SELECT 1 FROM items WHERE ns = ? AND coll = ? AND ord IS NULL LIMIT 1"
_NEXT_COLLECTION = "SELECT coll FROM items WHERE ns = ? AND coll > ? ORDER BY coll LIMIT 1"
_COLLECTION = "SELECT item, data FROM items WHERE ns = ? AND coll = ? ORDER BY item"


def load_head(
    conn: sqlite3.Connection,
    ns: str,
    ordered: str,
    limit: int,
    shift: int,
    skip: Collection[str],
) -> NamespaceHead:
    """Records, collections but ``ordered`` and ``skip``, and the first page of ``ordered``
    (all of it, in key order, if rows without an order are present); one read transaction."""
    conn.execute("BEGIN")
    try:
        records = {
            key: Record(bytes(data), int(version))
            for key, version, data in conn.execute(
                "SELECT key, version, data FROM records WHERE ns = ?", (ns,)
            )
        }
        collections: dict[str, list[tuple[str, bytes]]] = {}
        for coll in _collections(conn, ns):
            if coll != ordered and coll not in skip:
                collections[coll] = [(i, d) for i, d in conn.execute(_COLLECTION, (ns, coll))]
        if _may_hold_unordered(conn) and conn.execute(_UNORDERED, (ns, ordered)).fetchone():
            rows: list[PageRow] = [
                (i, d, None) for i, d in conn.execute(_COLLECTION, (ns, ordered))
            ]
            bands = {0: len(rows)}
            complete = True
        else:
            rows = conn.execute(_FIRST_PAGE, (ns, ordered, limit)).fetchall()
            bands = _bands(conn, ns, ordered, shift)
            complete = len(rows) == sum(bands.values())
    finally:
        conn.execute("COMMIT")
    return NamespaceHead(NamespaceData(ns, records, collections), rows, bands, complete)


def load_page(
    conn: sqlite3.Connection, ns: str, coll: str, after: Cursor, limit: int
) -> list[PageRow]:
    """The next rows of an ordered collection after ``after``."""
    rows: list[PageRow] = conn.execute(_PAGE, (ns, coll, after[0], after[1], limit)).fetchall()
    return rows


def load_items(
    conn: sqlite3.Connection, ns: str, coll: str, after: str, limit: int
) -> list[tuple[str, bytes]]:
    """The next items of a collection with a key after ``after``, by key."""
    return [
        (i, d)
        for i, d in conn.execute(
            "SELECT item, data FROM items WHERE ns = ? AND coll = ? AND item > ?"
            " ORDER BY item LIMIT ?",
            (ns, coll, after, limit),
        )
    ]


def _bands(conn: sqlite3.Connection, ns: str, coll: str, shift: int) -> dict[int, int]:
    """Rows per ``ord >> shift``: one pass over the index, band by band (a GROUP BY on the
    shifted value would sort every entry first)."""
    bands: dict[int, int] = {}
    row = conn.execute(_NEXT_ORDER, (ns, coll, -(1 << 63))).fetchone()
    while row is not None:
        band = row[0] >> shift
        low, high = band << shift, (band + 1) << shift
        bands[band] = conn.execute(_COUNT_RANGE, (ns, coll, low, high)).fetchone()[0]
        row = conn.execute(_NEXT_ORDER, (ns, coll, high)).fetchone() if high < 1 << 63 else None
    return bands


def _may_hold_unordered(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM meta WHERE key = ?", (UNORDERED,)).fetchone() is not None


def _collections(conn: sqlite3.Connection, ns: str) -> list[str]:
    """The collection names of ``ns``: one primary-key seek per name."""
    found: list[str] = []
    row = conn.execute(_NEXT_COLLECTION, (ns, "")).fetchone()
    while row is not None:
        found.append(row[0])
        row = conn.execute(_NEXT_COLLECTION, (ns, row[0])).fetchone()
    return found
