"""A cluster node as a child process, and its clients, for the multi-process tests.

``python _node_proc.py STORE ID``: a :class:`~bastion.cluster.Node` hosting the
counters ``c0``..``c3`` and taking tasks of the shared queue ``jobs``. It prints
``READY``, then ``OWNED <keys>`` whenever what it holds changes and ``STEPPED <n>`` when
it stepped down; it adds 1 to every counter it holds, over and over, printing
``ACK <key> <value>`` for each acknowledged add, and ``CRASHED <name> <reason>`` for
each actor crash. SIGTERM stops it cleanly (exit 0).

The test process itself queues the tasks (:func:`produce`) and waits for their
outcomes (:func:`await_outcomes`) through :func:`in_parent`. ``STORE`` is
``sqlite:<path>`` or ``postgres:<schema>:<dsn>``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

import bastion
from bastion._core._clock import current_clock
from bastion.agents import act
from bastion.cluster import Hosted, LeaseOptions, Node, Outcome, SharedQueue
from bastion.persistence import PostgresStore, SQLiteStore, StateStore, StoreError
from bastion.testing import CapturedEvents, capture_events, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # as a script: tests.cluster

from tests.cluster._support import Counter

#: Real-time leases for the process tests: a dead node's work moves after about 1 s.
LEASE = LeaseOptions(duration=1.0, renew_every=0.2, margin=0.3, check_every=0.05, io_timeout=0.4)
KEYS = ("c0", "c1", "c2", "c3")
LIMIT = 30.0
T = TypeVar("T")


async def open_store(spec: str) -> StateStore:
    kind, _, rest = spec.partition(":")
    if kind == "sqlite":
        return await SQLiteStore.open(rest, op_timeout=10.0)
    schema, _, dsn = rest.partition(":")
    return await PostgresStore.open(dsn, schema=schema, op_timeout=10.0)


async def work(payload: bytes) -> bytes:
    total = sum(i * i for i in range(2_000))  # a little CPU, as a real task would use
    await current_clock().sleep(0.002)
    return payload + f":{total}".encode()


async def run_node(store: StateStore, node_id: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with capture_events(("bastion", "actor", "crash")) as crashes:
        async with bastion.open_runtime() as rt:
            await serve(rt, store, node_id, stop, crashes)


async def serve(
    rt: bastion.Runtime,
    store: StateStore,
    node_id: str,
    stop: asyncio.Event,
    crashes: CapturedEvents,
) -> None:
    node = await rt.spawn(
        Node,
        store=store,
        node_id=node_id,
        agents=[Hosted(k, Counter) for k in KEYS],
        queues={"jobs": work},
        lease=LEASE,
    )
    print("READY", flush=True)
    owned: tuple[str, ...] = ()
    stepped = reported = 0
    while not stop.is_set():
        cell = node._resolve_or_none()
        if cell is None:
            raise SystemExit("the node stopped")
        stats = cell.actor.statistics()  # type: ignore[attr-defined]
        if stats.owned != owned:
            owned = stats.owned
            print(f"OWNED {','.join(owned)}", flush=True)
        if stats.stepped_down != stepped:
            stepped = stats.stepped_down
            print(f"STEPPED {stepped}", flush=True)
        for event in crashes.events[reported:]:
            name, reason = event.metadata.get("name"), event.metadata.get("reason")
            print(f"CRASHED {name} {reason!r}", flush=True)
        reported = len(crashes.events)
        await add_to_each(rt, owned)
        await current_clock().sleep(0.005)
    await node.stop(timeout=10.0)


async def add_to_each(rt: bastion.Runtime, keys: tuple[str, ...]) -> None:
    for key in keys:
        try:
            value = await act(rt.ref(key), "add", n=1, call_timeout=1.0)
        except (bastion.ActorError, bastion.CallTimeout, StoreError):
            continue  # stepping down, moved, or the store is away: nothing acknowledged
        print(f"ACK {key} {value}", flush=True)


async def produce(store: StateStore, first: int, count: int) -> list[str]:
    """Queue tasks ``t<first>``.. concurrently (retrying each while the database is
    away); the ids acknowledged."""
    queue = SharedQueue(store, "jobs")

    async def put(i: int) -> str:
        while True:
            try:
                await queue.put(f"t{i}", f"job{i}".encode())
                return f"t{i}"
            except StoreError:
                await current_clock().sleep(0.05)  # the database restarts: try again

    return list(await asyncio.gather(*(put(i) for i in range(first, first + count))))


async def await_outcomes(store: StateStore, count: int) -> dict[str, Any]:
    """Wait (bounded) until no task is pending (a task leaves ``pending`` only in the batch
    that records its outcome); a summary of the outcomes of ``t0``.. (KeyError if one
    has none)."""
    queue = SharedQueue(store, "jobs")
    ids = [f"t{i}" for i in range(count)]

    async def all_done() -> Any:
        try:
            return not await queue.pending(1)
        except StoreError:
            return False

    await wait_for(all_done, timeout=LIMIT, what="every task's outcome")
    done = (await store.load(queue.done_namespace)).records
    nodes: dict[str, int] = {}
    for task_id in ids:
        outcome = msgspec.json.decode(done[task_id].data, type=Outcome)
        nodes[outcome.node] = nodes.get(outcome.node, 0) + 1
    versions = sorted({done[task_id].version for task_id in ids})
    return {"nodes": nodes, "versions": versions, "count": len(ids)}


async def read_counts(store: StateStore) -> dict[str, int]:
    """Each counter's stored count."""
    counts = {}
    for key in KEYS:
        record = await store.read(f"agent/{key}", "state")
        fields = msgspec.json.decode(record.data)["fields"] if record else {}
        counts[key] = int(fields.get("count", 0))
    return counts


def in_parent(spec: str, job: Callable[[StateStore], Awaitable[T]]) -> T:
    """Run ``job`` on a store of ``spec`` in the calling (test) process."""

    async def run() -> T:
        store = await open_store(spec)
        try:
            return await job(store)
        finally:
            await store.close()

    return asyncio.run(run())


async def main(spec: str, node_id: str) -> None:
    store = await open_store(spec)
    try:
        await run_node(store, node_id)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
