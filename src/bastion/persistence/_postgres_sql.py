"""The statements of the PostgreSQL store: a group's writes, reads, drop and quarantine.

Every statement names its tables through ``{s}`` (see
:func:`~bastion.persistence._postgres_schema.qualify`); the store qualifies them once
when it opens. Groups are written with set-based statements over ``unnest`` arrays, so a
group of any size is a fixed number of statements.
"""

from __future__ import annotations

from typing import Any

from bastion.persistence._postgres_plan import GroupPlan

__all__ = ["Statements", "group_statements"]

_UNNEST_KEYS = "unnest(%s::text[], %s::text[]) AS u(ns, key)"


class Statements:
    """Every statement of the store, qualified with one PostgreSQL schema."""

    def __init__(self, schema: str) -> None:
        q = f'"{schema}".'
        r, i = q + "bastion_records", q + "bastion_items"
        self.lock_versions = (
            f"SELECT r.ns, r.key, r.version FROM {r} AS r JOIN {_UNNEST_KEYS}"
            " ON r.ns = u.ns AND r.key = u.key FOR UPDATE OF r"
        )
        self.insert_records = (
            f"INSERT INTO {r} (ns, key, version, data)"
            " SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bytea[])"
        )
        self.update_records = (
            f"UPDATE {r} AS r SET version = u.version, data = u.data"
            " FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bytea[])"
            " AS u(ns, key, version, data) WHERE r.ns = u.ns AND r.key = u.key"
        )
        self.delete_records = (
            f"DELETE FROM {r} AS r USING {_UNNEST_KEYS} WHERE r.ns = u.ns AND r.key = u.key"
        )
        self.delete_items = (
            f"DELETE FROM {i} AS i USING unnest(%s::text[], %s::text[], %s::text[])"
            " AS u(ns, coll, item) WHERE i.ns = u.ns AND i.coll = u.coll AND i.item = u.item"
        )
        self.put_items = (
            f"INSERT INTO {i} (ns, coll, item, data, ord) SELECT * FROM"
            " unnest(%s::text[], %s::text[], %s::text[], %s::bytea[], %s::bigint[])"
            " ON CONFLICT (ns, coll, item) DO UPDATE SET data = excluded.data, ord = excluded.ord"
        )
        self.register_writer = (
            f"INSERT INTO {q}bastion_writers (id, seq) VALUES (%s, 0) ON CONFLICT DO NOTHING"
        )
        self.mark_group = (
            f"INSERT INTO {q}bastion_writers (seq, id) VALUES (%s, %s)"
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq"
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


def group_statements(sql: Statements, plan: GroupPlan) -> list[tuple[str, tuple[Any, ...]]]:
    """The write statements of a planned group, with their array parameters.

    Inserts are plain ``INSERT``: a record absent when the group read the versions and
    created meanwhile by another writer fails the group with a unique violation, which
    the store retries from a fresh read (compare-and-set stays exact across processes).
    """
    out: list[tuple[str, tuple[Any, ...]]] = []
    inserts = [(k, v) for k, v in plan.record_puts.items() if plan.bases.get(k, 0) == 0]
    updates = [(k, v) for k, v in plan.record_puts.items() if plan.bases.get(k, 0) != 0]
    for statement, rows in ((sql.insert_records, inserts), (sql.update_records, updates)):
        if rows:
            out.append(
                (
                    statement,
                    (
                        [k[0] for k, _ in rows],
                        [k[1] for k, _ in rows],
                        [v[0] for _, v in rows],
                        [v[1] for _, v in rows],
                    ),
                )
            )
    if plan.record_dels:
        dels = list(plan.record_dels)
        out.append((sql.delete_records, ([k[0] for k in dels], [k[1] for k in dels])))
    if plan.item_dels:
        idels = list(plan.item_dels)
        out.append(
            (
                sql.delete_items,
                ([k[0] for k in idels], [k[1] for k in idels], [k[2] for k in idels]),
            )
        )
    if plan.item_puts:
        puts = list(plan.item_puts.items())
        out.append(
            (
                sql.put_items,
                (
                    [k[0] for k, _ in puts],
                    [k[1] for k, _ in puts],
                    [k[2] for k, _ in puts],
                    [v[0] for _, v in puts],
                    [v[1] for _, v in puts],
                ),
            )
        )
    return out
