"""The statements of the PostgreSQL store: a group's writes, reads, drop and quarantine.

Every statement names its tables through ``{s}`` (see
:func:`~bastion.persistence._postgres_schema.qualify`); the store qualifies them once
when it opens. A group is written by one statement (data-modifying CTEs over ``unnest``
arrays, committed on its own): one round trip however many batches it carries.
"""

from __future__ import annotations

from typing import Any

from bastion.persistence._postgres_plan import GroupPlan

RecordKey = tuple[str, str]

__all__ = ["Statements", "group_params"]

_UNNEST_KEYS = "unnest(%s::text[], %s::text[]) AS u(ns, key)"


class Statements:
    """Every statement of the store, qualified with one PostgreSQL schema."""

    def __init__(self, schema: str) -> None:
        q = f'"{schema}".'
        r, i = q + "bastion_records", q + "bastion_items"
        w = q + "bastion_writers"
        self.read_versions = (
            f"SELECT r.ns, r.key, r.version FROM {r} AS r JOIN {_UNNEST_KEYS}"
            " ON r.ns = u.ns AND r.key = u.key"
        )
        self.write_group = (
            f"WITH ins AS (INSERT INTO {r} (ns, key, version, data)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bytea[])),"
            f" upd AS (UPDATE {r} AS r SET version = u.version, data = u.data"
            " FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bytea[], %s::bigint[])"
            " AS u(ns, key, version, data, base)"
            " WHERE r.ns = u.ns AND r.key = u.key AND r.version = u.base RETURNING 1),"
            f" rdel AS (DELETE FROM {r} AS r"
            " USING unnest(%s::text[], %s::text[], %s::bigint[]) AS u(ns, key, base)"
            " WHERE r.ns = u.ns AND r.key = u.key AND r.version = u.base RETURNING 1),"
            f" idel AS (DELETE FROM {i} AS i"
            " USING unnest(%s::text[], %s::text[], %s::text[]) AS u(ns, coll, item)"
            " WHERE i.ns = u.ns AND i.coll = u.coll AND i.item = u.item),"
            f" iput AS (INSERT INTO {i} (ns, coll, item, data, ord) SELECT * FROM"
            " unnest(%s::text[], %s::text[], %s::text[], %s::bytea[], %s::bigint[])"
            " ON CONFLICT (ns, coll, item) DO UPDATE SET data = excluded.data, ord = excluded.ord),"
            f" mark AS (INSERT INTO {w} (id, seq) VALUES (%s, %s)"
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq),"
            # fences: records the group only reads, locked until the commit so that a
            # takeover by another node cannot commit between the check and the writes
            f" fen AS (SELECT 1 FROM {r} AS r"
            " JOIN unnest(%s::text[], %s::text[], %s::bigint[]) AS u(ns, key, ver)"
            " ON r.ns = u.ns AND r.key = u.key WHERE r.version = u.ver FOR SHARE OF r),"
            f" fen0 AS (SELECT 1 FROM {r} AS r"
            " JOIN unnest(%s::text[], %s::text[]) AS u(ns, key)"
            " ON r.ns = u.ns AND r.key = u.key)"
            # a record that is not at the version the plan started from fails the whole
            # statement (division by zero: STALE_VERSIONS), so nothing of the group lands
            " SELECT 1 / (CASE WHEN (SELECT count(*) FROM upd) = %s"
            " AND (SELECT count(*) FROM rdel) = %s"
            " AND (SELECT count(*) FROM fen) = %s"
            " AND NOT EXISTS (SELECT 1 FROM fen0) THEN 1 ELSE 0 END)"
        )
        self.register_writer = (
            f"INSERT INTO {q}bastion_writers (id, seq) VALUES (%s, 0) ON CONFLICT DO NOTHING"
        )
        self.group_mark = f"SELECT seq FROM {q}bastion_writers WHERE id = %s"
        self.forget_writer = f"DELETE FROM {q}bastion_writers WHERE id = %s"
        self.read_record = f"SELECT data, version FROM {r} WHERE ns = %s AND key = %s"
        self.read_item = f"SELECT data FROM {i} WHERE ns = %s AND coll = %s AND item = %s"
        self.load_records = f"SELECT key, version, data FROM {r} WHERE ns = %s"
        self.load_items = f"SELECT coll, item, data FROM {i} WHERE ns = %s ORDER BY coll, item"
        self.namespaces = (
            f"SELECT ns FROM {r} WHERE starts_with(ns, %s) UNION"
            f" SELECT ns FROM {i} WHERE starts_with(ns, %s) ORDER BY 1"
        )
        self.drop_records = f"DELETE FROM {r} WHERE ns = %s"
        self.drop_items = f"DELETE FROM {i} WHERE ns = %s"
        self.count_records = f"SELECT count(*) FROM {r} WHERE ns = %s"
        self.count_items = f"SELECT count(*) FROM {i} WHERE ns = %s"
        self.add_quarantine = (
            f"INSERT INTO {q}bastion_quarantine (ns, reason, at, records, items)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id"
        )
        self.quarantine_records = (
            f"INSERT INTO {q}bastion_quarantine_rows (qid, key, version, data)"
            f" SELECT %s, key, version, data FROM {r} WHERE ns = %s"
        )
        self.quarantine_items = (
            f"INSERT INTO {q}bastion_quarantine_rows (qid, coll, item, data)"
            f" SELECT %s, coll, item, data FROM {i} WHERE ns = %s"
        )
        self.quarantined = (
            f"SELECT ns, reason, at, records, items FROM {q}bastion_quarantine"
            " WHERE starts_with(ns, %s) ORDER BY id"
        )
        # PagedLoad (see _postgres_pages)
        self.first_page = (
            f"SELECT item, data, ord FROM {i} WHERE ns = %s AND coll = %s AND ord IS NOT NULL"
            " ORDER BY ord, item LIMIT %s"
        )
        self.page = (
            f"SELECT item, data, ord FROM {i} WHERE ns = %s AND coll = %s AND ord IS NOT NULL"
            " AND (ord, item) > (%s, %s) ORDER BY ord, item LIMIT %s"
        )
        self.bands = (
            f"SELECT ord >> %s AS band, count(*) FROM {i}"
            " WHERE ns = %s AND coll = %s AND ord IS NOT NULL GROUP BY band"
        )
        self.unordered = f"SELECT 1 FROM {i} WHERE ns = %s AND coll = %s AND ord IS NULL LIMIT 1"
        self.collection = f"SELECT item, data FROM {i} WHERE ns = %s AND coll = %s ORDER BY item"
        self.items_after = (
            f"SELECT item, data FROM {i} WHERE ns = %s AND coll = %s AND item > %s"
            " ORDER BY item LIMIT %s"
        )
        self.load_items_except = (
            f"SELECT coll, item, data FROM {i} WHERE ns = %s AND coll <> ALL(%s::text[])"
            " ORDER BY coll, item"
        )


def group_params(plan: GroupPlan, writer: object, group: int) -> tuple[Any, ...]:
    """The parameters of :attr:`Statements.write_group` for a planned group.

    Inserts are plain ``INSERT``: a record absent when the group was planned and created
    meanwhile by another writer fails the statement with a unique violation; updates and
    deletes apply only at the version the plan started from, and the statement fails if
    one did not. Either way nothing of the group lands and the store plans it again from
    fresh versions (compare-and-set stays exact across processes).
    """
    inserts: list[tuple[RecordKey, tuple[int, bytes]]] = []
    updates: list[tuple[RecordKey, tuple[int, bytes]]] = []
    for key, value in plan.record_puts.items():
        (updates if plan.bases.get(key, 0) else inserts).append((key, value))
    dels = [k for k in plan.record_dels if plan.bases.get(k, 0)]
    idels = list(plan.item_dels)
    puts = list(plan.item_puts.items())
    fences = [(k, v) for k, v in plan.fences.items() if v]
    absent = [k for k, v in plan.fences.items() if not v]
    return (
        [k[0] for k, _ in inserts],
        [k[1] for k, _ in inserts],
        [v[0] for _, v in inserts],
        [v[1] for _, v in inserts],
        [k[0] for k, _ in updates],
        [k[1] for k, _ in updates],
        [v[0] for _, v in updates],
        [v[1] for _, v in updates],
        [plan.bases[k] for k, _ in updates],
        [k[0] for k in dels],
        [k[1] for k in dels],
        [plan.bases[k] for k in dels],
        [k[0] for k in idels],
        [k[1] for k in idels],
        [k[2] for k in idels],
        [k[0] for k, _ in puts],
        [k[1] for k, _ in puts],
        [k[2] for k, _ in puts],
        [v[0] for _, v in puts],
        [v[1] for _, v in puts],
        writer,
        group,
        [k[0] for k, _ in fences],
        [k[1] for k, _ in fences],
        [v for _, v in fences],
        [k[0] for k in absent],
        [k[1] for k in absent],
        len(updates),
        len(dels),
        len(fences),
    )
