"""Two workflow nodes on one PostgreSQL database, as processes: kill -9 of one mid-run.

Each node is a child process (``_workflow_node_proc.py``) on the real clock with 1 s
leases; the test process starts the workflows (acknowledged starts) and reads their
outcomes from the database. The test waits on what the children print and on the
database (bounded by deadlines), never by sleeping.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._child import Child
from tests.cluster._node_proc import in_parent
from tests.cluster._workflow_node_proc import PARTITIONS, STEPS, await_finished, start_workflows

SCRIPT = Path(__file__).with_name("_workflow_node_proc.py")
ROOT = Path(__file__).resolve().parents[2]
LIMIT = 60.0  # real seconds for any one phase; a passing run takes a few seconds
COUNT = 40


@pytest.fixture
def store_spec(pg_dsn: str, pg_schema: str) -> str:
    """The nodes' shared database: a fresh schema of the session's PostgreSQL server."""
    return f"postgres:{pg_schema}:{pg_dsn}"


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Child]]:
    """Child processes (which import ``tests``), killed at the end whatever happened."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    procs: list[Child] = []
    yield procs
    for child in procs:
        child.close(timeout=LIMIT)


def deadline() -> float:
    return time.monotonic() + LIMIT


def runs(child: Child) -> list[tuple[str, int]]:
    """The (workflow id, step) of each step execution the child printed, in order."""
    out = []
    for line in child.lines:
        if line.startswith("RAN "):
            _, _, wid, step = line.split()
            out.append((wid, int(step)))
    return out


def test_kill_9_of_one_workflow_node_loses_nothing_and_reruns_no_recorded_step(
    store_spec: str, children: list[Child]
) -> None:
    a, b = (Child(SCRIPT, store_spec, node) for node in ("a", "b"))
    children.extend((a, b))
    for child in (a, b):
        child.read_until("READY", deadline())
    half = f"OWNED {PARTITIONS // 2}"
    for child in (a, b):  # the partitions split before the work starts: none moves until
        if not (child.lines and child.lines[-1] == half):  # the kill
            child.read_until(half, deadline())
    acked = in_parent(store_spec, lambda s: start_workflows(s, COUNT))
    assert len(acked) == COUNT
    a.read_until("RAN a", deadline())
    a.read_until("RAN a", deadline())  # a is mid-run: some of its steps are recorded
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=LIMIT)
    a.read_rest(deadline())

    summary = in_parent(store_spec, lambda s: await_finished(s, acked))
    assert summary == {wid: ("completed", STEPS) for wid in acked}  # 0 acknowledged lost
    b.proc.send_signal(signal.SIGTERM)
    b.read_rest(deadline())
    assert b.proc.wait(timeout=LIMIT) == 0

    ran_a, ran_b = runs(a), runs(b)
    assert ran_a
    for ran in (ran_a, ran_b):  # a step ran again on one node (a step-down under load, a
        for i, (wid, step) in enumerate(ran):  # partition moving) only while in flight
            assert (wid, step + 1) not in ran[:i], f"{wid} step {step} re-ran after its record"
    taken_over = {wid for wid, _ in ran_a} & {wid for wid, _ in ran_b}
    assert taken_over, "node b resumed none of node a's workflows"
    for wid, step in set(ran_a) & set(ran_b):
        # run on both: only the step in flight when a died, never one a had recorded (a
        # step starts only once the record of the one before it is committed)
        assert (wid, step + 1) not in ran_a, f"{wid} step {step} re-ran after it was recorded"
    ran_on = {(wid, step) for wid, step in ran_a + ran_b}
    assert ran_on == {(wid, n) for wid in acked for n in range(STEPS)}
