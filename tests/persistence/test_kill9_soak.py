"""Soak: repeated ``kill -9`` of a node running TaskAgents on SQLite loses no acknowledged
task and records every outcome once (the full-size soak is ``bench/bench_store_soak.py``)."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import msgspec
import pytest

from tests._child import read_until, start_node

NODE = Path(__file__).with_name("_soak_node.py")
LIMIT = 120.0  # real seconds per child phase; a passing phase takes about a second
KILLS = 4
PER_PHASE = 600


def _kill_at(db: str, phase: int, at: int) -> set[str]:
    """Run one producing phase, kill -9 it after ``at`` acknowledgements; the acked ids."""
    node = start_node(NODE, db, "produce", str(phase), str(PER_PHASE))
    lines = read_until(node, f"ACK p{phase}-{at}", time.monotonic() + LIMIT)
    node.send_signal(signal.SIGKILL)
    node.wait(timeout=LIMIT)
    return {line.split()[1] for line in lines if line.startswith("ACK")}


@pytest.mark.parametrize("writer", ["loop", "thread"])
def test_repeated_kill_9_loses_no_acknowledged_task(
    tmp_path: Path, writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_TEST_WRITER", writer)  # read by the node
    db = str(tmp_path / "soak.db")
    acked: set[str] = set()
    for phase in range(KILLS):
        acked |= _kill_at(db, phase, PER_PHASE // 2 + 37 * phase)
    resumed = start_node(NODE, db, "drain")
    done = read_until(resumed, "DONE", time.monotonic() + LIMIT)[-1].split()
    assert resumed.wait(timeout=LIMIT) == 0

    outcomes: dict[str, dict[str, object]] = {}
    processed = 0
    with sqlite3.connect(db) as conn:
        for agent in ("w0", "w1"):
            ns = f"agent/{agent}"
            rows = conn.execute(
                "SELECT item, data FROM items WHERE ns = ? AND coll = 'done'", (ns,)
            ).fetchall()
            assert not conn.execute(
                "SELECT count(*) FROM items WHERE ns = ? AND coll = 'queue'", (ns,)
            ).fetchone()[0]
            state = conn.execute(
                "SELECT data FROM records WHERE ns = ? AND key = 'state'", (ns,)
            ).fetchone()
            processed += msgspec.json.decode(state[0])["fields"]["processed_count"]
            for item, data in rows:
                assert item not in outcomes  # one outcome per task id, on one agent
                outcomes[item] = msgspec.json.decode(data)
    assert len(acked) >= KILLS * PER_PHASE // 2
    assert acked <= outcomes.keys()  # 0 acknowledged tasks lost
    assert all(o["status"] == "completed" for o in outcomes.values())
    assert processed == len(outcomes) == int(done[1])  # each completion counted once
