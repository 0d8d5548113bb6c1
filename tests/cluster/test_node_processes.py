"""Node processes on one database: kill -9 under load, a frozen node, a database restart.

Each node is a child process (``_node_proc.py``) on the real clock with 1 s leases; the
test process queues the tasks and checks the outcomes itself. The tests wait on what the
children print and on the database (bounded by deadlines), never by sleeping.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bastion.cluster import SharedQueue
from bastion.persistence import StateStore
from bastion.testing import wait_for
from tests._child import Child
from tests._postgres import PostgresServer
from tests.cluster._node_proc import KEYS, await_outcomes, in_parent, produce, read_counts

SCRIPT = Path(__file__).with_name("_node_proc.py")
LIMIT = 30.0  # real seconds for any one phase; a passing run takes a few seconds


@pytest.fixture
def store_spec(pg_dsn: str, pg_schema: str) -> str:
    """The nodes' shared database: a fresh schema of the session's PostgreSQL server."""
    return f"postgres:{pg_schema}:{pg_dsn}"


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Child processes, killed at the end whatever happened."""
    procs: list[Child] = []
    yield procs
    for child in procs:
        child.close(timeout=LIMIT)


def spawn(procs: list[Child], spec: str, *node_ids: str) -> list[Child]:
    """Start a node process per id (all at once), then wait until each is READY."""
    started = [Child(SCRIPT, spec, node_id) for node_id in node_ids]
    procs.extend(started)
    for child in started:
        child.read_until("READY", deadline())
    return started


def deadline() -> float:
    return time.monotonic() + LIMIT


def ran_some(node_id: str) -> Any:
    """A job: wait until ``node_id`` recorded the outcome of a task."""

    async def job(store: StateStore) -> Any:
        queue = SharedQueue(store, "jobs")

        async def seen() -> bool:
            done = await store.load(queue.done_namespace)
            mark = b'"node":"' + node_id.encode() + b'"'
            return any(mark in record.data for record in done.records.values())

        return await wait_for(seen, timeout=LIMIT, what=f"a task done by node {node_id}")

    return job


def stop_cleanly(*nodes: Child) -> None:
    """SIGTERM each node; each must read to its end and exit 0."""
    for node in nodes:
        node.proc.send_signal(signal.SIGTERM)
    for node in nodes:
        node.read_rest(deadline())
        assert node.proc.wait(timeout=LIMIT) == 0


def test_kill_9_of_one_of_three_nodes_loses_no_acknowledged_task(
    store_spec: str, children: list[Child]
) -> None:
    a, b, c = spawn(children, store_spec, "a", "b", "c")
    acked = in_parent(store_spec, lambda s: produce(s, 0, 100))
    in_parent(store_spec, ran_some("b"))
    b.proc.send_signal(signal.SIGKILL)  # mid-run: it holds claims, maybe counters
    b.proc.wait(timeout=LIMIT)
    acked += in_parent(store_spec, lambda s: produce(s, 100, 100))

    summary = in_parent(store_spec, lambda s: await_outcomes(s, 200))
    assert len(acked) == summary["count"] == 200  # every acknowledged task has an outcome
    assert summary["versions"] == [1]  # each outcome written once, never overwritten
    assert {"a", "b", "c"} <= set(summary["nodes"])
    stop_cleanly(a, c)


def test_a_node_frozen_past_its_lease_is_fenced_out_and_steps_down(
    store_spec: str, children: list[Child]
) -> None:
    (a,) = spawn(children, store_spec, "a")
    a.read_until("ACK", deadline())  # it holds counters and adds to them
    (b,) = spawn(children, store_spec, "b")
    a.proc.send_signal(signal.SIGSTOP)  # a pause (GC, swap, VM migration) past the lease
    b.read_until(f"OWNED {','.join(KEYS)}", deadline())
    a.proc.send_signal(signal.SIGCONT)
    a.read_until("STEPPED 1", deadline())
    b.read_until("ACK", deadline())
    stop_cleanly(a, b)
    # a clean step-down: a's agents were stopped before acting on the lost lease, none
    # crashed on LeaseLost (nor anything else)
    assert [line for line in a.lines if line.startswith("CRASHED")] == []

    acks: dict[str, list[int]] = {k: [] for k in KEYS}
    for line in a.lines + b.lines:
        if line.startswith("ACK "):
            _, key, value = line.split()
            acks[key].append(int(value))
    final = in_parent(store_spec, read_counts)
    for key in KEYS:
        # no count acknowledged twice: the frozen node's stale adds were never committed
        assert len(acks[key]) == len(set(acks[key])), key
        assert final[key] >= max(acks[key], default=0)
    assert all(acks[k] for k in KEYS)


def test_the_nodes_ride_out_a_database_restart(
    store_spec: str, pg_server: PostgresServer, children: list[Child]
) -> None:
    if not pg_server.owned:
        pytest.skip("the database is external (BASTION_TEST_PG_DSN): not restarting it")
    a, b = spawn(children, store_spec, "a", "b")
    acked = in_parent(store_spec, lambda s: produce(s, 0, 40))
    in_parent(store_spec, ran_some("a"))
    pg_server.restart("fast")  # every connection of the nodes is cut
    acked += in_parent(store_spec, lambda s: produce(s, 40, 40))
    summary = in_parent(store_spec, lambda s: await_outcomes(s, 80))
    assert len(acked) == summary["count"] == 80
    assert summary["versions"] == [1]
    assert a.proc.poll() is None
    assert b.proc.poll() is None  # nobody restarted them
    stop_cleanly(a, b)
