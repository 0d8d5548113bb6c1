"""PostgresStore under failure: its connections terminated mid-run, a lock held past its
deadline, the reply to a COMMIT lost. Nothing acknowledged is lost, nothing applied twice."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from bastion.persistence import PostgresStore, Put, PutItem, StoreTimeout
from bastion.persistence._postgres_link import Link
from bastion.testing import wait_for

pytestmark = pytest.mark.bastion(real_time=True)


async def _admin(dsn: str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    async with await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, connect_timeout=10
    ) as conn:
        cur = await conn.execute(statement, params)
        return await cur.fetchall() if cur.description else []


async def _terminate(dsn: str, application: str) -> int:
    rows = await _admin(
        dsn,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
        (application,),
    )
    return len(rows)


async def test_terminated_connections_lose_no_acknowledged_write(
    pg_dsn: str, pg_schema: str
) -> None:
    app = f"bastion-{pg_schema}"
    store = await PostgresStore.open(pg_dsn, schema=pg_schema, application_name=app)
    acked: list[int] = []
    terminated = 0

    async def writer(lane: int) -> None:
        for i in range(lane, 600, 3):
            await store.write(
                [Put("a", f"k{i}", str(i).encode()), PutItem("a", "log", f"{i:04d}", b"x")]
            )
            acked.append(i)

    async def killer() -> None:
        nonlocal terminated
        for at in (60, 200, 400):
            await wait_for(lambda n=at: len(acked) >= n, timeout=60.0, what=f"{at} acks")
            terminated += await _terminate(pg_dsn, app)
            await store.load("a")  # reads recover too

    await asyncio.gather(writer(0), writer(1), writer(2), killer())
    assert terminated >= 3
    assert len(acked) == 600
    data = await store.load("a")
    assert len(data.collections["log"]) == 600
    assert {k: r.version for k, r in data.records.items()} == {f"k{i}": 1 for i in range(600)}
    assert store.statistics().commits >= 1
    await store.close()


async def test_a_write_blocked_past_its_deadline_fails_clearly_and_the_store_recovers(
    pg_dsn: str, pg_schema: str
) -> None:
    store = await PostgresStore.open(pg_dsn, schema=pg_schema, op_timeout=1.0)
    await store.write([Put("a", "k", b"1")])
    async with await psycopg.AsyncConnection.connect(pg_dsn, connect_timeout=10) as holder:
        await holder.execute(
            f"SELECT * FROM {pg_schema}.bastion_records WHERE ns = 'a' AND key = 'k' FOR UPDATE"
        )  # holds the row lock until the transaction ends
        with pytest.raises(StoreTimeout, match=r"not committed within 1\.0s"):
            await store.write([Put("a", "k", b"2", expected_version=1)])
        await holder.rollback()
    result = await store.write([Put("a", "k", b"3", expected_version=1)])
    assert result.versions[("a", "k")] == 2
    await store.close()


class _LostCommitReply:
    """A connection whose first group write is committed by the server, but whose reply
    is lost (the connection closes under it)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self.lost = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def execute(self, statement: Any, params: Any = None) -> Any:
        result = await self._conn.execute(statement, params)
        if str(statement).startswith("WITH ins") and not self.lost:
            self.lost = True
            await self._conn.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return result


async def test_a_commit_whose_reply_was_lost_is_acknowledged_once(
    pg_dsn: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await PostgresStore.open(pg_dsn, schema=pg_schema)
    await store.write([Put("a", "k", b"1")])
    real_writer = Link._writer
    wrapped: list[_LostCommitReply] = []

    async def writer(self: Link) -> Any:
        conn = await real_writer(self)
        if not wrapped:
            wrapped.append(_LostCommitReply(conn))
        return wrapped[0] if not wrapped[0].lost else conn

    monkeypatch.setattr(Link, "_writer", writer)
    result = await store.write(
        [Put("a", "k", b"2", expected_version=1), PutItem("a", "q", "i", b"x")]
    )
    assert wrapped[0].lost  # the reply to the COMMIT really was lost
    assert result.versions[("a", "k")] == 2  # acknowledged as committed, not a conflict
    record = await store.read("a", "k")
    assert record is not None
    assert (record.data, record.version) == (b"2", 2)  # applied once
    await store.close()
