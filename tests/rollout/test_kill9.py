"""``kill -9`` of the process mid-phase: the rollout resumes from its last commit."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import msgspec

from tests._child import read_until, start_node

NODE = Path(__file__).with_name("_kill_node.py")
LIMIT = 60.0  # real seconds for each child phase


def _committed(db: str) -> dict:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT data FROM records WHERE ns = 'agent/rollout:new-step' AND key = 'state'"
        ).fetchone()
    return msgspec.json.decode(row[0])["fields"]


def test_kill_9_mid_phase_resumes_the_same_phase_and_never_promotes_twice(tmp_path: Path) -> None:
    db = str(tmp_path / "node.db")
    node = start_node(NODE, db, "run")
    lines = read_until(node, "HOLD", time.monotonic() + LIMIT)  # phase 2, calls counted
    node.send_signal(signal.SIGKILL)
    node.wait(timeout=LIMIT)
    assert lines
    committed = _committed(db)
    assert committed["rollout"]["phase"] == 2

    resumed = start_node(NODE, db, "resume")
    state = read_until(resumed, "STATE", time.monotonic() + LIMIT)[-1]
    status, evidence = msgspec.json.decode(state.removeprefix("STATE "))
    assert status["phase"] == committed["rollout"]["phase"]
    assert status["phase_canary_calls"] == committed["rollout"]["phase_canary_calls"]
    errors = next(e for e in evidence if e["signal"] == "errors")
    assert errors["canary_exposure"] == committed["rollout"]["canary"][0]
    done = read_until(resumed, "DONE", time.monotonic() + LIMIT)[-1]
    assert resumed.wait(timeout=LIMIT) == 0
    assert done == "DONE promoted"

    journal = _journal(db)
    promoted = [e["percent"] for e in journal if e["action"] == "promote"]
    assert promoted == [5.0, 25.0, 50.0, 100.0]
    assert [e["seq"] for e in journal] == list(range(len(journal)))


def _journal(db: str) -> list[dict]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT item, data FROM items WHERE ns = 'agent/rollout:new-step' "
            "AND coll = 'journal' ORDER BY item"
        ).fetchall()
    return [msgspec.json.decode(data) for _item, data in rows]
