"""PostgresStore beyond the contract: options, schema versions, group commit, several
stores on one database, bad input, and error classification.

Connection loss and deadlines: ``test_postgres_failures.py``. Every test runs against the
session's throwaway PostgreSQL server (``tests/_postgres.py``), in its own schema, on the
real clock (the server answers in real time).
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import pytest

from bastion.persistence import (
    DamagedStore,
    NotAStateStore,
    PostgresStore,
    Put,
    PutItem,
    SQLiteStore,
    StoreError,
    StoreOpenError,
    VersionConflict,
)
from bastion.persistence import _postgres_schema as pg_schema_module
from bastion.persistence._postgres_errors import is_transient
from bastion.persistence._postgres_options import PostgresStoreOptions
from bastion.resilience import normalize

pytestmark = pytest.mark.bastion(real_time=True)


async def _admin(dsn: str, statement: str) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, connect_timeout=10
    ) as conn:
        cur = await conn.execute(statement)
        return await cur.fetchall() if cur.description else []


def test_the_store_keywords_mirror_the_store_constructor() -> None:
    hints = typing.get_type_hints(PostgresStore.__init__)
    keyword_only = [
        name
        for name, parameter in inspect.signature(PostgresStore.__init__).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert typing.get_type_hints(PostgresStoreOptions) == {n: hints[n] for n in keyword_only}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schema": "Robert'); DROP TABLE"}, "schema must be a lower-case identifier"),
        ({"pool_size": 0}, "pool_size must be >= 1"),
        ({"max_pending_ops": 0}, "max_pending_ops must be >= 1"),
        ({"batched_commit": "maybe"}, "batched_commit must be one of"),
        ({"op_timeout": 0}, "op_timeout"),
    ],
)
def test_bad_options_are_value_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PostgresStore("host=127.0.0.1", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dsn"):
        PostgresStore("  ")


async def test_a_new_schema_gets_the_current_version_and_reopening_keeps_the_data(
    pg_dsn: str, pg_schema: str
) -> None:
    async with await PostgresStore.open(pg_dsn, schema=pg_schema) as store:
        await store.write([Put("a", "k", b"1")])
    rows = await _admin(pg_dsn, f"SELECT version, format FROM {pg_schema}.bastion_schema")
    assert rows == [(pg_schema_module.SCHEMA_VERSION, pg_schema_module.FORMAT)]
    async with await PostgresStore.open(pg_dsn, schema=pg_schema) as store:
        record = await store.read("a", "k")
        assert record is not None
        assert (record.data, record.version) == (b"1", 1)


async def test_a_schema_written_by_a_newer_bastion_is_refused_and_left_as_it_is(
    pg_dsn: str, pg_schema: str
) -> None:
    async with await PostgresStore.open(pg_dsn, schema=pg_schema) as store:
        await store.write([Put("a", "k", b"1")])
    await _admin(pg_dsn, f"UPDATE {pg_schema}.bastion_schema SET version = 99")
    with pytest.raises(StoreOpenError, match=r"newer Bastion \(schema 99; this code knows 1\)"):
        await PostgresStore.open(pg_dsn, schema=pg_schema)
    assert await _admin(pg_dsn, f"SELECT version FROM {pg_schema}.bastion_schema") == [(99,)]
    assert await _admin(pg_dsn, f"SELECT count(*) FROM {pg_schema}.bastion_records") == [(1,)]


async def test_an_older_schema_is_migrated_once_in_order(
    pg_dsn: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await PostgresStore.open(pg_dsn, schema=pg_schema) as store:
        await store.write([Put("a", "k", b"1")])
    step = ("CREATE TABLE {s}.bastion_extra (id integer PRIMARY KEY)",)
    monkeypatch.setattr(pg_schema_module, "MIGRATIONS", (*pg_schema_module.MIGRATIONS, step))
    monkeypatch.setattr(pg_schema_module, "SCHEMA_VERSION", 2)
    for _ in range(2):  # the second open finds version 2 and runs nothing
        async with await PostgresStore.open(pg_dsn, schema=pg_schema) as store:
            assert await store.read("a", "k") is not None
    assert await _admin(pg_dsn, f"SELECT version FROM {pg_schema}.bastion_schema") == [(2,)]
    assert await _admin(pg_dsn, f"SELECT count(*) FROM {pg_schema}.bastion_extra") == [(0,)]


async def test_tables_of_another_application_are_not_a_state_store(
    pg_dsn: str, pg_schema: str
) -> None:
    await _admin(pg_dsn, f"CREATE SCHEMA {pg_schema}")
    await _admin(pg_dsn, f"CREATE TABLE {pg_schema}.bastion_records (x integer)")
    with pytest.raises(NotAStateStore, match="no bastion_schema version table"):
        await PostgresStore.open(pg_dsn, schema=pg_schema)


async def test_a_store_with_a_missing_table_is_damaged(pg_dsn: str, pg_schema: str) -> None:
    await (await PostgresStore.open(pg_dsn, schema=pg_schema)).close()
    await _admin(pg_dsn, f"DROP TABLE {pg_schema}.bastion_items")
    with pytest.raises(DamagedStore, match="table bastion_items missing"):
        await PostgresStore.open(pg_dsn, schema=pg_schema)


async def test_an_unreachable_server_is_a_retryable_store_error() -> None:
    dsn = "host=127.0.0.1 port=1 user=nobody dbname=none"
    with pytest.raises(StoreError) as info:
        await PostgresStore.open(dsn, op_timeout=1.0)
    assert info.value.retryable
    assert "connection" in str(info.value).lower()


async def test_batches_submitted_together_share_one_commit(pg_dsn: str, pg_schema: str) -> None:
    async with await PostgresStore.open(pg_dsn, schema=pg_schema) as store:
        futures = [await store.submit([Put("a", f"k{i}", b"x")]) for i in range(200)]
        results = await asyncio.gather(*futures)
        assert all(r.versions[("a", f"k{i}")] == 1 for i, r in enumerate(results))
        stats = store.statistics()
        assert stats.batches == 200
        assert stats.commits < 10
        assert stats.max_group >= 20


async def test_a_bad_batch_is_rejected_alone_and_its_group_commits(
    pg_dsn: str, pg_schema: str
) -> None:
    async with await PostgresStore.open(pg_dsn, schema=pg_schema) as store:
        good = await store.submit([Put("a", "k", b"1")])
        nul = await store.submit([PutItem("a", "q", "bad\x00key", b"x"), Put("a", "j", b"1")])
        text = await store.submit([Put("a", "t", "not bytes")])  # type: ignore[arg-type]
        after = await store.submit([PutItem("a", "q", "fine", b"y")])
        assert (await good).versions[("a", "k")] == 1
        with pytest.raises(StoreError, match="NUL") as info:
            await nul
        assert not info.value.retryable
        with pytest.raises(StoreError, match="must be bytes"):
            await text
        await after
        data = await store.load("a")
        assert data.collections == {"q": [("fine", b"y")]}
        assert set(data.records) == {"k"}


async def test_two_stores_on_one_database_see_each_others_versions(
    pg_dsn: str, pg_schema: str
) -> None:
    async with (
        await PostgresStore.open(pg_dsn, schema=pg_schema) as one,
        await PostgresStore.open(pg_dsn, schema=pg_schema) as two,
    ):
        await one.write([Put("a", "k", b"1", expected_version=0)])
        await two.write([Put("a", "k", b"2", expected_version=1)])
        with pytest.raises(VersionConflict, match="expected version 1, found 2"):
            await one.write([Put("a", "k", b"stale", expected_version=1)])
        record = await one.read("a", "k")
        assert record is not None
        assert (record.data, record.version) == (b"2", 2)


async def test_racing_creators_of_one_record_get_exactly_one_winner(
    pg_dsn: str, pg_schema: str
) -> None:
    async with (
        await PostgresStore.open(pg_dsn, schema=pg_schema) as one,
        await PostgresStore.open(pg_dsn, schema=pg_schema) as two,
    ):
        for round_ in range(20):
            key = f"k{round_}"
            results = await asyncio.gather(
                one.write([Put("a", key, b"one", expected_version=0)]),
                two.write([Put("a", key, b"two", expected_version=0)]),
                return_exceptions=True,
            )
            conflicts = [r for r in results if isinstance(r, VersionConflict)]
            assert len(conflicts) == 1, results
            record = await one.read("a", key)
            assert record is not None
            assert record.version == 1


async def test_paged_loads_answer_like_sqlite(pg_dsn: str, pg_schema: str, tmp_path: Path) -> None:
    ops = [
        PutItem("a", "queue", f"t{i:03d}", str(i).encode(), order=(i * 37) % 50) for i in range(60)
    ]
    ops += [
        PutItem("a", "done", "d1", b"r"),
        PutItem("a", "small", "s", b"v"),
        Put("a", "state", b"s"),
    ]
    answers = []
    postgres = await PostgresStore.open(pg_dsn, schema=pg_schema)
    sqlite = await SQLiteStore.open(tmp_path / "state.db")
    for store in (postgres, sqlite):
        await store.write(ops)
        head = await store.load_head("a", "queue", 10, shift=3, skip=("done",))
        cursor = (head.page[-1][2], head.page[-1][0])
        assert cursor[0] is not None
        page = await store.load_page("a", "queue", (cursor[0], cursor[1]), 15)
        items = await store.load_items("a", "queue", "t050", 5)
        answers.append((head, page, items))
        await store.close()
    assert answers[0] == answers[1]
    assert len(answers[0][0].page) == 10
    assert answers[0][0].data.collections == {"small": [("s", b"v")]}


@pytest.mark.parametrize(
    "sqlstate",
    ["08006", "08001", "57P01", "57014", "58030", "40001", "40P01", "53300", "55P03",
     "23505", "22P02", "42601", "53100", "40002", "25P02", "42P01"],
)  # fmt: skip
def test_retrying_agrees_with_the_error_model(sqlstate: str) -> None:
    exc = psycopg.errors.lookup(sqlstate)("boom")
    assert is_transient(exc) == normalize(exc).retryable
    assert is_transient(psycopg.OperationalError("the connection is lost"))


async def _setting(conn: psycopg.AsyncConnection[Any]) -> str:
    cur = await conn.execute("SHOW synchronous_commit")
    row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def test_strict_writes_commit_synchronously_and_batched_ones_as_configured(
    pg_dsn: str, pg_schema: str
) -> None:
    store = await PostgresStore.open(pg_dsn, schema=pg_schema, batched_commit="local")
    link = store._link
    assert link is not None
    assert await link.run(_setting) == "local"  # the pool's connections
    await store.write([Put("a", "k", b"1")], sync=True)
    strict = await store.submit([Put("a", "k", b"2", expected_version=1)], sync=True)
    stale = await store.submit([Put("a", "k", b"x", expected_version=1)], sync=True)
    assert (await strict).versions[("a", "k")] == 2
    with pytest.raises(VersionConflict):
        await stale
    assert link._conn is not None
    assert await _setting(link._conn) == "local"  # strict only for its own commits
    record = await store.read("a", "k")
    assert record is not None
    assert (record.data, record.version) == (b"2", 2)
    await store.close()
