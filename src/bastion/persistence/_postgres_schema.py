"""The PostgreSQL tables of :class:`~bastion.persistence.PostgresStore`, and their migrations.

Every table lives in one PostgreSQL schema (``public`` unless the store is opened with
``schema=...``) and is named ``bastion_*``, so a store can share a database with an
application. Text keys use the ``"C"`` collation: items come back in byte order, as from
SQLite, whatever the database's locale.

**Versions.** ``bastion_schema`` holds one row: the schema version and the format.
:data:`MIGRATIONS` lists the statements that take a database from version ``n`` to
``n + 1``; :func:`prepare` applies the missing ones in one transaction under an advisory
lock (several nodes opening one database at once migrate it once), and refuses a
database written by a newer Bastion (:class:`StoreOpenError`, nothing changed). A later
version (leases, fencing...) appends its statements to :data:`MIGRATIONS`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bastion.persistence._errors import DamagedStore, NotAStateStore, StoreOpenError

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = [
    "FORMAT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "check_schema_name",
    "prepare",
    "qualify",
]

FORMAT = "bastion-state-1"
#: The tables every version has; a database missing one is damaged.
TABLES = (
    "bastion_records",
    "bastion_items",
    "bastion_quarantine",
    "bastion_quarantine_rows",
    "bastion_writers",
)
_TEXT = 'text COLLATE "C" NOT NULL'
#: ``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1`` (``{s}``: the schema).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"CREATE TABLE {{s}}.bastion_records (ns {_TEXT}, key {_TEXT},"
        " version bigint NOT NULL, data bytea NOT NULL, PRIMARY KEY (ns, key))",
        f"CREATE TABLE {{s}}.bastion_items (ns {_TEXT}, coll {_TEXT}, item {_TEXT},"
        " data bytea NOT NULL, ord bigint, PRIMARY KEY (ns, coll, item))",
        "CREATE INDEX bastion_items_ord ON {s}.bastion_items (ns, coll, ord, item)"
        " WHERE ord IS NOT NULL",
        f"CREATE TABLE {{s}}.bastion_quarantine (id bigserial PRIMARY KEY, ns {_TEXT},"
        " reason text NOT NULL, at double precision NOT NULL, records integer NOT NULL,"
        " items integer NOT NULL)",
        "CREATE TABLE {s}.bastion_quarantine_rows (qid bigint NOT NULL"
        " REFERENCES {s}.bastion_quarantine (id) ON DELETE CASCADE, key text, coll text,"
        " item text, version bigint, data bytea NOT NULL)",
        # one row per open store: the number of its last committed group, so a commit
        # whose outcome the connection's loss hid can be told apart from a lost one
        "CREATE TABLE {s}.bastion_writers (id uuid PRIMARY KEY, seq bigint NOT NULL,"
        " opened timestamptz NOT NULL DEFAULT now())",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
#: The advisory lock key (with the schema's hash) held while a database is prepared.
LOCK_KEY = 0x4253544E  # "BSTN"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_schema_name(name: str) -> str:
    """``name`` if it is a plain lower-case PostgreSQL identifier, else ValueError."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"schema must be a lower-case identifier (letters, digits, _), not {name!r}"
        )
    return name


def qualify(statement: str, schema: str) -> str:
    """``statement`` with its ``{s}`` placeholders naming ``schema`` (quoted)."""
    return statement.replace("{s}", f'"{schema}"')


async def prepare(conn: AsyncConnection[Any], schema: str) -> int:
    """Create or migrate the tables in ``schema``; returns the version found before.

    One transaction under an advisory lock. Raises :class:`StoreOpenError` for a newer
    schema or an unknown format, :class:`DamagedStore` for missing tables,
    :class:`NotAStateStore` for ``bastion_*`` tables without a version row.
    """
    where = f"PostgreSQL schema {schema!r}"
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_KEY, schema))
        await conn.execute(qualify("CREATE SCHEMA IF NOT EXISTS {s}", schema))
        present = await _tables(conn, schema)
        if "bastion_schema" not in present:
            if present & set(TABLES):
                raise NotAStateStore(
                    f"{where}: has {', '.join(sorted(present & set(TABLES)))} but no "
                    "bastion_schema version table: not a Bastion state store; left untouched",
                    context={"problem": "foreign"},
                )
            await conn.execute(
                qualify(
                    "CREATE TABLE {s}.bastion_schema (id integer PRIMARY KEY CHECK (id = 1),"
                    " version integer NOT NULL, format text NOT NULL)",
                    schema,
                )
            )
            found = 0
        else:
            found = await _version(conn, schema, where)
            missing = [t for t in TABLES if t not in present]
            if missing and found >= SCHEMA_VERSION:
                raise DamagedStore(
                    f"{where}: damaged Bastion state store: table {', '.join(missing)} missing",
                    context={"problem": "damaged"},
                )
        for step in MIGRATIONS[found:]:
            for statement in step:
                await conn.execute(qualify(statement, schema))
        if found < SCHEMA_VERSION:
            await conn.execute(
                qualify(
                    "INSERT INTO {s}.bastion_schema (id, version, format) VALUES (1, %s, %s)"
                    " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                    schema,
                ),
                (SCHEMA_VERSION, FORMAT),
            )
    return found


async def _tables(conn: AsyncConnection[Any], schema: str) -> set[str]:
    cur = await conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE 'bastion%%'",
        (schema,),
    )
    return {str(row[0]) for row in await cur.fetchall()}


async def _version(conn: AsyncConnection[Any], schema: str, where: str) -> int:
    cur = await conn.execute(
        qualify("SELECT version, format FROM {s}.bastion_schema WHERE id = 1", schema)
    )
    row = await cur.fetchone()
    if row is None:
        raise DamagedStore(
            f"{where}: damaged Bastion state store: its version row is missing",
            context={"problem": "damaged"},
        )
    version, fmt = int(row[0]), str(row[1])
    if fmt != FORMAT:
        raise StoreOpenError(
            f"{where}: unknown state store format {fmt!r} (this code knows {FORMAT!r})",
            context={"problem": "newer"},
        )
    if version > SCHEMA_VERSION:
        raise StoreOpenError(
            f"{where}: written by a newer Bastion (schema {version}; this code knows "
            f"{SCHEMA_VERSION}); upgrade Bastion to open it",
            context={"problem": "newer"},
        )
    return version
