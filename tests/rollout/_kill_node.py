"""A node for the rollout kill -9 test, run as a child process (SQLite store, real time).

``python _kill_node.py DB run``: define the flag, start a rollout with a fast plan and
send traffic; print ``PHASE <n> <canary calls>`` after every tick, and once phase 2 has
counted canary calls (far fewer than it needs to be promoted) stop the traffic and print
``HOLD``: the phase cannot end without calls, so the parent's kill lands mid-phase however
late it comes. ``python _kill_node.py DB resume``: restart the orchestrator from DB
without traffic, print ``STATE <json>`` of its status and evidence, then send traffic
until the rollout ends and print ``DONE <status>``.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec
from _workload import FLAG, Behaviour, setup_rollout  # the script's own folder

import bastion
from bastion.agents import act
from bastion.persistence import SQLiteStore
from bastion.rollout import RolloutPlan
from bastion.rollout._orchestrator import orchestrator_name
from bastion.testing import wait_for

# promotion by canary calls only (real-time traffic on a loaded machine has no fixed rate)
PLAN = RolloutPlan(
    flag=FLAG,
    min_dwell=0.2,
    min_canary_calls=40,
    tick=0.05,
    inconclusive_after=500,
    max_hold=1000,
)
HOLD_PHASE = 2


async def _committed_phase(store: SQLiteStore) -> bool:
    """The orchestrator's record on file is in :data:`HOLD_PHASE` (not just its memory)."""
    record = await store.read(f"agent/{orchestrator_name(FLAG)}", "state")
    if record is None:
        return False
    return bool(msgspec.json.decode(record.data)["fields"]["rollout"]["phase"] == HOLD_PHASE)


async def main(db: str, mode: str) -> None:
    async with await SQLiteStore.open(db) as store, bastion.open_runtime() as rt:
        _flags, sup, traffic = await setup_rollout(
            rt, store, Behaviour(canary_errors=0.0, base_errors=0.0), PLAN
        )
        traffic.rate = 200.0
        ref = rt.ref(orchestrator_name(FLAG))
        if mode == "run":
            await act(ref, "start", actor="node", reason="kill -9 test", preflight=False)
        else:
            status, evidence = await act(ref, "status"), await act(ref, "evidence")
            print("STATE", msgspec.json.encode([status, evidence]).decode(), flush=True)
        while True:
            status = await act(ref, "status")
            if status.status not in ("running", "inconclusive"):
                break
            print(f"PHASE {status.phase} {status.phase_canary_calls}", flush=True)
            if mode == "run" and status.phase == HOLD_PHASE and status.phase_canary_calls:
                await wait_for(lambda: _committed_phase(store), timeout=30.0)
                print("HOLD", flush=True)
                await asyncio.Event().wait()  # no traffic, no promotion: wait for the kill
            await traffic.run_for(0.05)
        print(f"DONE {status.status}", flush=True)
        await sup.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
