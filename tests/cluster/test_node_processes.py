"""Several node processes on one database: kill -9 under load, a frozen node, a restart.

Each node is a child process (``_node_proc.py``) on the real clock with 1 s leases. The
tests wait on what the children print (bounded by deadlines), never by sleeping.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tests._child import read_until, start_node
from tests.cluster._node_proc import KEYS, read_state

SCRIPT = Path(__file__).with_name("_node_proc.py")
LIMIT = 30.0  # real seconds for any one phase; a passing run takes a few seconds


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the nodes keep their shared state: one SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'cluster.db'}"
    dsn = request.getfixturevalue("pg_dsn")
    schema = request.getfixturevalue("pg_schema")
    return f"postgres:{schema}:{dsn}"


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes to kill at the end whatever happened."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=LIMIT)
        if proc.stdout is not None:
            proc.stdout.close()


def spawn(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = start_node(SCRIPT, *args)
    procs.append(proc)
    return proc


def deadline() -> float:
    return time.monotonic() + LIMIT


def test_kill_9_of_one_of_three_nodes_loses_no_acknowledged_task(
    store_spec: str, children: list[subprocess.Popen[str]]
) -> None:
    nodes = [spawn(children, store_spec, "node", n) for n in ("a", "b", "c")]
    for node in nodes:
        read_until(node, "READY", deadline())
    producer = spawn(children, store_spec, "produce", "300")
    read_until(producer, "ACK t99", deadline())
    victim = nodes[1]
    victim.send_signal(signal.SIGKILL)  # mid-run: it holds counters and claimed tasks
    victim.wait(timeout=LIMIT)
    read_until(producer, "PRODUCED", deadline())

    waiter = spawn(children, store_spec, "await", "300")
    done = read_until(waiter, "DONE", deadline())[-1]
    summary = msgspec.json.decode(done.split(" ", 1)[1])
    assert summary["count"] == 300  # every acknowledged task has an outcome
    assert summary["versions"] == [1]  # each outcome written once, never overwritten
    assert set(summary["nodes"]) >= {"a", "c"}
    # the survivors took the dead node's counters over
    for node in (nodes[0], nodes[2]):
        node.send_signal(signal.SIGTERM)
    for node in (nodes[0], nodes[2]):
        assert node.wait(timeout=LIMIT) == 0


def test_a_node_frozen_past_its_lease_is_fenced_out_and_steps_down(
    store_spec: str, children: list[subprocess.Popen[str]]
) -> None:
    a = spawn(children, store_spec, "node", "a")
    read_until(a, "OWNED c", deadline())
    b = spawn(children, store_spec, "node", "b")
    seen_b = read_until(b, "READY", deadline())
    seen_a = read_until(a, "ACK", deadline())
    a.send_signal(signal.SIGSTOP)  # a pause (GC, swap, a VM migration) past the lease
    seen_b += read_until(b, f"OWNED {','.join(sorted(KEYS))}", deadline())
    a.send_signal(signal.SIGCONT)
    seen_a += read_until(a, "STEPPED 1", deadline())
    seen_b += read_until(b, "ACK", deadline())
    for node in (a, b):
        node.send_signal(signal.SIGTERM)
    for node, seen in ((a, seen_a), (b, seen_b)):
        out, _ = node.communicate(timeout=LIMIT)
        assert node.returncode == 0
        seen.extend(out.splitlines())

    acks: dict[str, list[int]] = {k: [] for k in KEYS}
    for line in seen_a + seen_b:
        if line.startswith("ACK "):
            _, key, value = line.split()
            acks[key].append(int(value))
    final = read_state(store_spec)
    for key in KEYS:
        # no value acknowledged twice: the frozen node's stale adds were never committed
        assert len(acks[key]) == len(set(acks[key])), key
        assert final[key] >= max(acks[key], default=0)
    assert any(acks[k] for k in KEYS)
