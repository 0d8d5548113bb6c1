"""Agents on PostgresStore: a PersistentAgent and a TaskAgent restore their state from it,
and ``kill -9`` of a node writing to it loses no acknowledged task."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest

import bastion
from bastion.agents import Task, TaskAgent, TaskAgentStatus, act
from bastion.persistence import PostgresStore, Put
from bastion.testing import crash, wait_for
from tests._child import read_until, start_node
from tests.agents.test_persistent_agent import Shop

NODE = Path(__file__).with_name("_kill_node_pg.py")
LIMIT = 60.0  # real seconds for each child phase


@pytest.mark.bastion(real_time=True)
async def test_a_persistent_agent_restores_from_postgres(pg_dsn: str, pg_schema: str) -> None:
    async with (
        await PostgresStore.open(pg_dsn, schema=pg_schema) as store,
        bastion.open_runtime() as rt,
    ):
        spec = bastion.ChildSpec(id="shop", actor=Shop, name="shop", kwargs={"store": store})
        sup = await rt.start_supervisor([spec])
        shop = rt.ref("shop")
        for sku in ["apple", "banana", "cherry"]:
            await act(shop, "sell", sku=sku)
        await act(shop, "cancel", order="o2")
        first = rt.whereis("shop")
        assert first is not None
        await crash(first)
        snap = await act(shop, "snapshot")
        assert (snap["sales"], snap["restored"]) == (3, True)
        assert snap["orders"] == {"o1": ("apple", 1), "o3": ("cherry", 1)}
        await sup.stop()
    async with (  # a new store and runtime: what a restarted process sees
        await PostgresStore.open(pg_dsn, schema=pg_schema) as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(Shop, name="shop", store=store)
        snap = await act(ref, "snapshot")
        assert (snap["sales"], snap["recent"], snap["tags"]) == (
            3,
            ["apple", "banana", "cherry"],
            ["a", "b", "c"],
        )
        await ref.stop()


@pytest.mark.bastion(real_time=True)
async def test_a_task_agent_restores_its_queue_and_outcomes_from_postgres(
    pg_dsn: str, pg_schema: str
) -> None:
    ran: list[str] = []

    async def work(task: Task) -> Any:
        ran.append(task.id)
        return {"echo": task.payload}

    async with (
        await PostgresStore.open(pg_dsn, schema=pg_schema) as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"work": work})
        await act(ref, "process", type="work", id="first", payload=0)
        await act(ref, "pause")
        for i in range(30):
            await act(
                ref,
                "queue",
                type="work",
                id=f"t{i:02d}",
                payload=i,
                priority="high" if i % 3 == 0 else "normal",
            )
        await ref.stop()
    assert ran == ["first"]
    async with (
        await PostgresStore.open(pg_dsn, schema=pg_schema) as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"work": work})
        status = await act(ref, "status")
        assert (status.queued, status.processed, status.status) == (30, 1, TaskAgentStatus.PAUSED)
        await act(ref, "resume")

        async def drained() -> bool:
            s = await act(ref, "status")
            return bool(s.queued == 0 and s.current_task is None)

        await wait_for(drained, timeout=30.0)
        high = [f"t{i:02d}" for i in range(30) if i % 3 == 0]
        assert ran[1:] == high + [f"t{i:02d}" for i in range(30) if i % 3]
        outcome = await act(ref, "result", task_id="first")
        assert (outcome.status, outcome.result) == ("completed", {"echo": 0})
        await ref.stop()


def _rows(dsn: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        return conn.execute(statement).fetchall()


def test_every_acknowledged_task_completes_once_after_kill_9_on_postgres(
    pg_dsn: str, pg_schema: str
) -> None:
    node = start_node(NODE, pg_dsn, pg_schema, "produce", "400")
    deadline = time.monotonic() + LIMIT
    lines = read_until(node, "ACK t199", deadline)
    if not any(line.startswith("GATE") for line in lines):  # task t100 waits for the kill
        lines += read_until(node, "GATE", deadline)
    node.send_signal(signal.SIGKILL)
    node.wait(timeout=LIMIT)
    acked = {line.split()[1] for line in lines if line.startswith("ACK")}
    assert len(acked) >= 200
    items = f"{pg_schema}.bastion_items"
    queued = f"SELECT count(*) FROM {items} WHERE ns = 'agent/w' AND coll = 'queue'"
    # the kill left work behind: t100 and the acked after it
    assert _rows(pg_dsn, queued)[0][0] >= len(acked) - 100

    resumed = start_node(NODE, pg_dsn, pg_schema, "resume")
    done = read_until(resumed, "DONE", time.monotonic() + LIMIT)[-1].split()
    assert resumed.wait(timeout=LIMIT) == 0

    rows = _rows(pg_dsn, f"SELECT item, data FROM {items} WHERE ns = 'agent/w' AND coll = 'done'")
    state = _rows(
        pg_dsn,
        f"SELECT data FROM {pg_schema}.bastion_records WHERE ns = 'agent/w' AND key = 'state'",
    )
    outcomes = {item: msgspec.json.decode(data) for item, data in rows}
    assert acked <= outcomes.keys()  # every acknowledged task completed
    assert len(rows) == len(outcomes)  # one row per task id
    assert all(o["status"] == "completed" for o in outcomes.values())
    fields = msgspec.json.decode(state[0][0])["fields"]
    assert fields["processed_count"] == len(outcomes)  # each completion counted once
    assert int(done[1]) == len(outcomes)
    assert _rows(pg_dsn, queued)[0][0] == 0


@pytest.mark.bastion(real_time=True)
async def test_corrupt_state_in_postgres_is_quarantined_and_the_agent_starts_fresh(
    pg_dsn: str, pg_schema: str
) -> None:
    async with (
        await PostgresStore.open(pg_dsn, schema=pg_schema) as store,
        bastion.open_runtime() as rt,
    ):
        await store.write([Put("agent/shop", "state", b"\x00garbage")])
        ref = await rt.spawn(Shop, name="shop", store=store)
        snap = await act(ref, "snapshot")
        assert (snap["sales"], snap["restored"]) == (0, False)
        await act(ref, "sell", sku="fresh")
        [entry] = await store.quarantined("agent/shop")
        assert (entry.namespace, entry.records) == ("agent/shop", 1)
        assert "CorruptState" in entry.reason or "decode" in entry.reason.lower()
        await ref.stop()
    rows = _rows(pg_dsn, f"SELECT data FROM {pg_schema}.bastion_quarantine_rows")
    assert rows == [(b"\x00garbage",)]  # kept for inspection
