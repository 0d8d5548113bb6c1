"""One cluster node as a process, for ``bench/_scale_nodes.py``.

``python bench/_scale_node.py DSN SCHEMA NODE_ID WORK LEASE``: a Node on PostgreSQL
with leases of ``LEASE`` seconds. With ``WORK`` 0 it hosts the counters ``c0``..``c7``;
otherwise it takes tasks of the shared queue ``jobs``, each ``WORK`` rounds of
CPU-bound work (and hosts nothing, so that it spends its CPU on the tasks). It prints
``READY <process seconds>`` (the CPU its imports and start took), then ``SERVED <key>
<monotonic time>`` the first time each counter it holds answers an acknowledged ``add``
(again after it moved away and back). On SIGTERM it prints ``CPU <process seconds>
<store commits> <store batches>`` and exits.
``time.monotonic`` is system-wide on Linux, so the parent compares its times with its own.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import bastion
from bastion.agents import act
from bastion.cluster import Hosted, LeaseOptions, Node
from bastion.persistence import PostgresStore, StoreError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the cluster tests' Counter

from tests.cluster._support import Counter

KEYS = tuple(f"c{i}" for i in range(8))


def cpu_work(rounds: int) -> int:
    """Pure-Python CPU work (no I/O, holds the GIL): what a CPU-bound task does."""
    total = 0
    for i in range(rounds):
        total = (total + i * i) % 1_000_003
    return total


async def main(dsn: str, schema: str, node_id: str, work: int, lease: float) -> None:
    async def handle(payload: bytes) -> bytes:
        return str(cpu_work(work)).encode()

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    options = LeaseOptions(duration=lease, check_every=min(0.1, lease / 10))
    async with (
        await PostgresStore.open(dsn, schema=schema, op_timeout=10.0) as store,
        bastion.open_runtime() as rt,
    ):
        node = await rt.spawn(
            Node,
            store=store,
            node_id=node_id,
            agents=[] if work else [Hosted(k, Counter) for k in KEYS],
            queues={"jobs": handle} if work else {},
            lease=options,
        )
        print(f"READY {time.process_time()}", flush=True)  # the CPU its start took
        served: set[str] = set()
        if work:
            await stop.wait()
        while not stop.is_set():
            for key in KEYS:
                if rt.whereis(key) is None:
                    served.discard(key)  # moved away: print again when it comes back
                    continue
                if key in served:
                    continue
                try:
                    await act(rt.ref(key), "add", call_timeout=1.0)
                except (bastion.ActorError, bastion.CallTimeout, StoreError):
                    continue
                served.add(key)
                print(f"SERVED {key} {time.monotonic()}", flush=True)
            await asyncio.sleep(0.002)
        await node.stop(timeout=10.0)
        stats = store.statistics()
    print(f"CPU {time.process_time()} {stats.commits} {stats.batches}", flush=True)


if __name__ == "__main__":
    dsn, schema, node_id, work, lease = sys.argv[1:6]
    asyncio.run(main(dsn, schema, node_id, int(work), float(lease)))
