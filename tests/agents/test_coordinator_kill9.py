"""Acknowledged workflows survive ``kill -9`` of the node running the coordinator, and no
step whose outcome was recorded runs again (SQLite store, 8 concurrent clients)."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import msgspec

from tests._child import read_until, start_node

NODE = Path(__file__).with_name("_kill_coord_node.py")
LIMIT = 60.0  # real seconds for each child phase; a passing run takes a few seconds


def _items(db: str, ns: str, coll: str) -> dict[str, dict[str, object]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT item, data FROM items WHERE ns = ? AND coll = ?", (ns, coll)
        ).fetchall()
    return {item: msgspec.json.decode(data) for item, data in rows}


def _meta(db: str, workflow: str) -> dict[str, object] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT data FROM records WHERE ns = ? AND key = 'meta'",
            (f"workflow/coordinator/coord/{workflow}",),
        ).fetchone()
    return None if row is None else msgspec.json.decode(row[0])


def test_every_acknowledged_workflow_completes_after_kill_9(tmp_path: Path) -> None:
    db = str(tmp_path / "node.db")
    node = start_node(NODE, db, "produce")
    deadline = time.monotonic() + LIMIT
    lines = read_until(node, "GATE", deadline)
    lines += read_until(node, "ACK job-7-30", deadline)  # many acknowledgements meanwhile
    node.send_signal(signal.SIGKILL)
    node.wait(timeout=LIMIT)
    acked = {line.split()[1] for line in lines if line.startswith("ACK")}
    recorded: set[str] = set()  # step outcomes on disk at the kill: never run again
    for agent in ("w1", "w2", "wg"):
        recorded |= _items(db, f"agent/{agent}", "done").keys()

    resumed = start_node(NODE, db, "resume")
    out = read_until(resumed, "DONE", time.monotonic() + LIMIT)
    assert resumed.wait(timeout=LIMIT) == 0

    metas = {wf: _meta(db, wf) for wf in acked}
    lost = [wf for wf, meta in metas.items() if meta is None or meta["status"] != "completed"]
    assert not lost  # no acknowledged workflow lost: each completed
    for wf in acked:  # each step's result recorded once, under its own step number
        steps = _items(db, f"workflow/coordinator/coord/{wf}", "steps")
        names = sorted(str(rec["name"]) for rec in steps.values())
        assert names == ["s1", "s2", "s3"], (wf, steps)
        results = {str(rec["name"]): rec["result"]["result"] for rec in steps.values()}  # type: ignore[index]
        assert all(str(r).startswith(f"{wf}/{n}/") for n, r in results.items())
    rerun = {line.split()[1] for line in out if line.startswith("RUN")} & recorded
    assert not rerun  # no step whose outcome was recorded ran again
    assert not _items(db, "workflow-index/coordinator/coord", "active")  # none left active
