"""Acknowledged tasks survive ``kill -9`` of the process running the node (SQLite store)."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import msgspec
import pytest

from tests._child import read_until, start_node

NODE = Path(__file__).with_name("_kill_node.py")
LIMIT = 60.0  # real seconds for each child phase; a passing run takes well under 2 s


@pytest.mark.parametrize("writer", ["loop", "thread"])
def test_every_acknowledged_task_completes_once_after_kill_9(
    tmp_path: Path, writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_TEST_WRITER", writer)  # read by the node
    db = str(tmp_path / "node.db")
    node = start_node(NODE, db, "produce", "400")
    deadline = time.monotonic() + LIMIT
    lines = read_until(node, "ACK t199", deadline)
    if not any(line.startswith("GATE") for line in lines):  # task t100 waits for the kill
        lines += read_until(node, "GATE", deadline)
    node.send_signal(signal.SIGKILL)
    node.wait(timeout=LIMIT)
    acked = {line.split()[1] for line in lines if line.startswith("ACK")}
    assert len(acked) >= 200
    with sqlite3.connect(db) as conn:  # the kill left work behind: t100 and the acked after it
        left = conn.execute(
            "SELECT count(*) FROM items WHERE ns = 'agent/w' AND coll = 'queue'"
        ).fetchone()[0]
    assert left >= len(acked) - 100

    resumed = start_node(NODE, db, "resume")
    done = read_until(resumed, "DONE", time.monotonic() + LIMIT)[-1].split()
    assert resumed.wait(timeout=LIMIT) == 0

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT item, data FROM items WHERE ns = 'agent/w' AND coll = 'done'"
        ).fetchall()
        state = conn.execute(
            "SELECT data FROM records WHERE ns = 'agent/w' AND key = 'state'"
        ).fetchone()
        queued = conn.execute(
            "SELECT count(*) FROM items WHERE ns = 'agent/w' AND coll = 'queue'"
        ).fetchone()[0]
    outcomes = {item: msgspec.json.decode(data) for item, data in rows}
    assert acked <= outcomes.keys()  # every acknowledged task completed
    assert len(rows) == len(outcomes)  # one row per task id
    assert all(o["status"] == "completed" for o in outcomes.values())
    fields = msgspec.json.decode(state[0])["fields"]
    assert fields["processed_count"] == len(outcomes)  # each completion counted once
    assert int(done[1]) == len(outcomes)
    assert queued == 0
