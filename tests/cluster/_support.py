"""Shared pieces of the cluster tests: a counting agent, a store a test can partition."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import bastion
from bastion.agents import PersistentAgent, action
from bastion.cluster import Hosted, LeaseOptions, Node, NodeStatistics
from bastion.persistence import (
    NamespaceData,
    Op,
    QuarantineEntry,
    Record,
    StateStore,
    StoreStatistics,
    StoreTimeout,
    WriteResult,
)

#: Short leases in virtual time: failover after 2 s, the holder stops by 1.5 s.
LEASE = LeaseOptions(duration=2.0, renew_every=0.5, margin=0.5, check_every=0.2, io_timeout=0.3)


class Counter(PersistentAgent):
    """A persistent counter: ``add`` is acknowledged once its write committed."""

    persistent_fields = ("count",)
    count: int = 0

    @action
    def add(self, n: int = 1) -> int:
        self.count += n
        return self.count

    @action
    def get(self) -> int:
        return self.count


def hosted(*keys: str) -> list[Hosted]:
    """One :class:`Counter` per key."""
    return [Hosted(k, Counter) for k in keys]


async def start_node(
    rt: bastion.Runtime, store: StateStore, node_id: str, agents: Sequence[Hosted]
) -> bastion.ActorRef:
    """A :class:`Node` in ``rt`` with the test leases."""
    return await rt.spawn(
        Node, name=f"node:{node_id}", store=store, node_id=node_id, agents=agents, lease=LEASE
    )


def node_stats(ref: bastion.ActorRef) -> NodeStatistics:
    """The statistics of the node behind ``ref``."""
    cell = ref._resolve_or_none()
    assert cell is not None
    node = cell.actor
    assert isinstance(node, Node)
    return node.statistics()


class PartitionableStore:
    """A view of a shared store that a test can cut off: every call then times out.

    What a network partition between one node and the database looks like to that node.
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.cut = False
        self.lose_answers = 0  # this many writes commit, then time out as if lost

    @property
    def backend(self) -> str:
        return self._store.backend

    async def _gate(self) -> None:
        if self.cut:
            raise StoreTimeout("partitioned from the database (test)")

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        await self._gate()
        return await self._store.submit(ops, sync=sync, defer=defer)

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        await self._gate()
        result = await self._store.write(ops, sync=sync)
        if self.lose_answers:
            self.lose_answers -= 1
            raise StoreTimeout("the commit's answer was lost (test)")
        return result

    async def read(self, namespace: str, key: str) -> Record | None:
        await self._gate()
        return await self._store.read(namespace, key)

    async def read_item(self, namespace: str, collection: str, item: str) -> bytes | None:
        await self._gate()
        return await self._store.read_item(namespace, collection, item)

    async def load(self, namespace: str) -> NamespaceData:
        await self._gate()
        return await self._store.load(namespace)

    async def namespaces(self, prefix: str = "") -> list[str]:
        await self._gate()
        return await self._store.namespaces(prefix)

    async def drop(self, namespace: str) -> None:
        await self._gate()
        await self._store.drop(namespace)

    async def quarantine(self, namespace: str, reason: str) -> QuarantineEntry:
        await self._gate()
        return await self._store.quarantine(namespace, reason)

    async def quarantined(self, prefix: str = "") -> list[QuarantineEntry]:
        return await self._store.quarantined(prefix)

    async def close(self) -> None:
        pass

    def statistics(self) -> StoreStatistics:
        return self._store.statistics()


def holders(*refs: bastion.ActorRef) -> dict[str, str]:
    """Which node holds each agent, from the nodes' statistics."""
    owned: dict[str, str] = {}
    for ref in refs:
        stats = node_stats(ref)
        for key in stats.owned:
            assert key not in owned, f"{key} is held by {owned[key]} and {stats.node_id}"
            owned[key] = stats.node_id
    return owned
