"""A node whose lease lapses while it is busy (stalled on the store, or frozen and resumed)
steps down cleanly: its agents are stopped before they act on the lost lease, none
crashes on ``LeaseLost`` (virtual time, MemoryStore)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import bastion
from bastion._core._clock import current_clock
from bastion.agents import act
from bastion.cluster import LeaseLost
from bastion.persistence import MemoryStore, NamespaceData, Op, Record, StateStore, WriteResult
from bastion.testing import capture_events, wait_for
from tests.cluster._support import LEASE, PartitionableStore, hosted, node_stats, start_node

KEYS = ("c1", "c2")


class StalledLeases(PartitionableStore):
    """A store whose lease records answer only after ``stall`` seconds once ``stalled``:
    the node's own store calls hang (up to their deadline) while its agents' writes go
    through, as when a node's lease machinery is starved or its process was frozen."""

    def __init__(self, store: StateStore, stall: float) -> None:
        super().__init__(store)
        self.stalled = False
        self.stall = stall

    async def _slow(self, namespace: str) -> None:
        if (
            self.stalled
            and namespace.startswith("lease/")
            and not namespace.startswith("lease/agent/")
        ):
            await current_clock().sleep(self.stall)  # a stalled answer

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        await self._slow(ops[0].namespace if ops else "")
        return await super().write(ops, sync=sync)

    async def read(self, namespace: str, key: str) -> Record | None:
        await self._slow(namespace)
        return await super().read(namespace, key)

    async def load(self, namespace: str) -> NamespaceData:
        await self._slow(namespace)
        return await super().load(namespace)

    async def namespaces(self, prefix: str = "") -> list[str]:
        await self._slow(prefix)
        return await super().namespaces(prefix)


async def test_agents_are_stopped_not_crashed_when_the_lease_lapses_under_a_busy_node(
    rt: bastion.Runtime,
) -> None:
    stalled = StalledLeases(MemoryStore(), stall=LEASE.duration)
    node = await start_node(rt, stalled, "a", hosted(*KEYS))
    await wait_for(lambda: node_stats(node).owned == KEYS, timeout=10.0)
    for key in KEYS:
        await act(rt.ref(key), "add", n=1)
    acknowledged = {k: 1 for k in KEYS}
    with capture_events(("bastion", "actor", "crash")) as events:
        stalled.stalled = True  # the node's renewals hang past its deadline
        while node_stats(node).owned:  # the agents keep being called meanwhile
            for key in KEYS:
                # not acknowledged if it fails: the node is stepping down
                with contextlib.suppress(bastion.ActorError, bastion.CallTimeout, LeaseLost):
                    acknowledged[key] = await act(rt.ref(key), "add", n=1, call_timeout=1.0)
            await current_clock().sleep(0.05)  # the callers' pace (virtual time)
    crashed = [
        e.metadata.get("reason")
        for e in events.named("bastion", "actor", "crash")
        if e.metadata.get("name") in KEYS or isinstance(e.metadata.get("reason"), LeaseLost)
    ]
    assert crashed == []  # stopped before acting on the lost lease, not crashed
    assert node_stats(node).stepped_down == 1
    for key in KEYS:  # nothing written after the lease lapsed
        record = await stalled.read(f"agent/{key}", "state")
        assert record is not None
    stalled.stalled = False
    await wait_for(lambda: node_stats(node).owned == KEYS, timeout=20.0, what="a to rejoin")
    for key in KEYS:  # every acknowledged add survived; nothing unacknowledged was applied
        assert await act(rt.ref(key), "get") == acknowledged[key]
    await node.stop()
