"""Read and maintenance queries run on the SQLite writer thread."""

from __future__ import annotations

import sqlite3

from bastion.persistence._protocol import NamespaceData, QuarantineEntry, Record

__all__ = [
    "drop_namespace",
    "list_namespaces",
    "list_quarantined",
    "load_namespace",
    "quarantine_namespace",
    "read_item",
    "read_record",
]


def read_record(conn: sqlite3.Connection, ns: str, key: str) -> Record | None:
    """One record, or None."""
    row = conn.execute(
        "SELECT data, version FROM records WHERE ns = ? AND key = ?", (ns, key)
    ).fetchone()
    return Record(bytes(row[0]), int(row[1])) if row else None


def read_item(conn: sqlite3.Connection, ns: str, coll: str, item: str) -> bytes | None:
    """One item's bytes, or None."""
    row = conn.execute(
        "SELECT data FROM items WHERE ns = ? AND coll = ? AND item = ?", (ns, coll, item)
    ).fetchone()
    return bytes(row[0]) if row else None


def load_namespace(conn: sqlite3.Connection, ns: str) -> NamespaceData:
    """Records and collections of ``ns`` in one read transaction."""
    conn.execute("BEGIN")
    try:
        records = {
            key: Record(bytes(data), int(version))
            for key, version, data in conn.execute(
                "SELECT key, version, data FROM records WHERE ns = ?", (ns,)
            )
        }
        collections: dict[str, list[tuple[str, bytes]]] = {}
        for coll, item, data in conn.execute(
            "SELECT coll, item, data FROM items WHERE ns = ? ORDER BY coll, item", (ns,)
        ):
            collections.setdefault(coll, []).append((item, data))
    finally:
        conn.execute("COMMIT")
    return NamespaceData(ns, records, collections)


def list_namespaces(conn: sqlite3.Connection, prefix: str) -> list[str]:
    """Namespaces with records or items, sorted."""
    rows = conn.execute(
        "SELECT ns FROM records WHERE substr(ns, 1, ?) = ? UNION "
        "SELECT ns FROM items WHERE substr(ns, 1, ?) = ? ORDER BY 1",
        (len(prefix), prefix, len(prefix), prefix),
    ).fetchall()
    return [r[0] for r in rows]


def drop_namespace(conn: sqlite3.Connection, ns: str) -> None:
    """Delete all rows of ``ns`` atomically."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM records WHERE ns = ?", (ns,))
        conn.execute("DELETE FROM items WHERE ns = ?", (ns,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def quarantine_namespace(
    conn: sqlite3.Connection, ns: str, reason: str, at: float
) -> QuarantineEntry:
    """Copy the rows of ``ns`` into the quarantine tables and delete them, atomically."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        nrec = conn.execute("SELECT count(*) FROM records WHERE ns = ?", (ns,)).fetchone()[0]
        nitems = conn.execute("SELECT count(*) FROM items WHERE ns = ?", (ns,)).fetchone()[0]
        qid = conn.execute(
            "INSERT INTO quarantine (ns, reason, at, records, items) VALUES (?, ?, ?, ?, ?)",
            (ns, reason, at, nrec, nitems),
        ).lastrowid
        conn.execute(
            "INSERT INTO quarantine_rows (qid, key, version, data) "
            "SELECT ?, key, version, data FROM records WHERE ns = ?",
            (qid, ns),
        )
        conn.execute(
            "INSERT INTO quarantine_rows (qid, coll, item, data) "
            "SELECT ?, coll, item, data FROM items WHERE ns = ?",
            (qid, ns),
        )
        conn.execute("DELETE FROM records WHERE ns = ?", (ns,))
        conn.execute("DELETE FROM items WHERE ns = ?", (ns,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return QuarantineEntry(ns, reason, at, int(nrec), int(nitems))


def list_quarantined(conn: sqlite3.Connection, prefix: str) -> list[QuarantineEntry]:
    """Quarantine entries whose namespace starts with ``prefix``, oldest first."""
    rows = conn.execute(
        "SELECT ns, reason, at, records, items FROM quarantine "
        "WHERE substr(ns, 1, ?) = ? ORDER BY id",
        (len(prefix), prefix),
    ).fetchall()
    return [QuarantineEntry(r[0], r[1], float(r[2]), int(r[3]), int(r[4])) for r in rows]
