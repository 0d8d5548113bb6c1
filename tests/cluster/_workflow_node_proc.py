"""A node running partitioned durable workflows, as a child process (multi-process tests).

``python _workflow_node_proc.py STORE ID``: a workflow engine with ``PARTITIONS``
partitions and a :class:`~bastion.cluster.Node` hosting them. It prints ``READY``, then
``OWNED <n>`` whenever the number of partitions it holds changes, and ``RAN <node>
<workflow id> <step>`` when a step starts executing (before its work).
SIGTERM stops it cleanly (exit 0). ``STORE`` as in ``_node_proc.py``.

The test process starts the workflows and reads their outcomes itself
(:func:`start_workflows`, :func:`await_finished` through ``in_parent``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import bastion
from bastion._core._clock import current_clock
from bastion.cluster import Node
from bastion.persistence import StateStore, StoreError
from bastion.testing import wait_for
from bastion.workflows import WorkflowStatus, inspect
from tests.cluster._node_proc import LEASE, LIMIT, open_store

PARTITIONS = 8
STEPS = 4


@bastion.step
async def work(workflow_id: str, number: int) -> int:
    print(f"RAN {os.environ.get('BASTION_NODE', '?')} {workflow_id} {number}", flush=True)
    total = sum(i * i for i in range(5_000))  # a little CPU, as a real step would use
    await current_clock().sleep(0.02)
    return number + total % 7


@bastion.workflow(name="tests.cluster.process_pipeline")
async def pipeline(ctx: bastion.WorkflowContext) -> list[int]:
    return [await work(ctx.workflow_id, n) for n in range(STEPS)]


def expected() -> list[int]:
    """What every pipeline returns."""
    extra = sum(i * i for i in range(5_000)) % 7
    return [n + extra for n in range(STEPS)]


async def open_engine(rt: bastion.Runtime, store: StateStore) -> bastion.WorkflowEngine:
    return await bastion.open_workflows(rt, store=store, partitions=PARTITIONS, discover_every=0.1)


async def run_node(store: StateStore, node_id: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    os.environ["BASTION_NODE"] = node_id
    async with bastion.open_runtime() as rt:
        engine = await open_engine(rt, store)
        node = await rt.spawn(
            Node, store=store, node_id=node_id, agents=engine.hosted(), lease=LEASE
        )
        print("READY", flush=True)
        owned = -1
        while not stop.is_set():
            cell = node._resolve_or_none()
            if cell is None:
                raise SystemExit("the node stopped")
            now = len(cell.actor.statistics().owned)  # type: ignore[attr-defined]
            if now != owned:
                owned = now
                print(f"OWNED {owned}", flush=True)
            await current_clock().sleep(0.02)
        await node.stop(timeout=10.0)
        await engine.close()


async def start_workflows(store: StateStore, count: int) -> list[str]:
    """Start ``w0``.. from a partitioned engine that runs nothing (no node here); the ids
    whose start was acknowledged."""
    async with bastion.open_runtime() as rt:
        engine = await open_engine(rt, store)
        ids = []
        for i in range(count):
            await engine.start(pipeline, workflow_id=f"w{i}")
            ids.append(f"w{i}")
        await engine.close()
    return ids


async def await_finished(store: StateStore, ids: list[str]) -> dict[str, tuple[str, int]]:
    """Wait (bounded) until every workflow finished; each one's status and step count."""
    workflows = inspect(store)

    async def all_finished() -> Any:
        try:
            infos = [await workflows.get(w) for w in ids]
        except StoreError:
            return False
        return all(i.status.finished for i in infos)

    await wait_for(all_finished, timeout=LIMIT, what="every workflow to finish")
    summary = {}
    for wid in ids:
        info = await workflows.get(wid)
        steps = await workflows.steps(wid)
        assert info.status is WorkflowStatus.COMPLETED, (wid, info)
        summary[wid] = (info.status.value, len(steps))
    return summary


async def main(spec: str, node_id: str) -> None:
    store = await open_store(spec)
    try:
        await run_node(store, node_id)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
