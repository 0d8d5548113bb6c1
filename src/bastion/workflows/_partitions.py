"""Durable workflows on several nodes: partitions owned through cluster leases.

An engine opened with ``partitions=N`` splits the workflows by a hash of their id into
``N`` partitions and runs only the workflows of the partitions its process owns. Each
partition is a :class:`~bastion.cluster.Hosted` actor (:class:`WorkflowPartition`) that
the process's :class:`~bastion.cluster.Node` holds through a lease, like any hosted
agent: while it runs, its partition is *owned* here, and every write of a run of that
partition goes through the lease's :class:`~bastion.cluster.FencedStore`, so the store
rejects a stale owner's batch whole (:class:`~bastion.cluster.LeaseLost`). When the node
steps down, releases the lease or dies, the partition's runs stop; the node that takes
the lease over resumes them from their history.

Why partitions, not a lease per workflow: a node reads every lease it might claim at
each check, and a workflow lease would cost a write at every start and end; a fixed
number of partitions keeps the lease work constant however many workflows run, and the
fence on each step's batch costs the same either way.

All nodes of one store must use the same number: it is recorded in the store the first
time (``workflow-partitions`` / ``count``) and an engine with another number, or one
without partitions, refuses to open.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from bastion._core._actor import Actor
from bastion._core._messages import ExitReason
from bastion.cluster import FencedStore, Hosted, LeaseLost
from bastion.cluster._forwarding import ForwardingStore, PagedForwardingStore
from bastion.persistence import Op, Put, StateStore, StoreError, VersionConflict, WriteResult
from bastion.persistence._paged import PagedLoad
from bastion.workflows._records import FENCE, NAMESPACE_PREFIX, workflow_id_of

__all__ = [
    "Ownership",
    "WorkflowPartition",
    "check_partition_count",
    "hosted_partitions",
    "owned_store",
    "partition_of",
]

PARTITIONS_NAMESPACE = "workflow-partitions"
COUNT_KEY = "count"


def partition_of(workflow_id: str, partitions: int) -> int:
    """The partition of ``workflow_id`` (the same on every node and every run)."""
    return zlib.crc32(workflow_id.encode()) % partitions


async def check_partition_count(store: StateStore, partitions: int | None) -> None:
    """Record ``partitions`` in the store the first time; ValueError if it differs from
    the recorded number (two numbers would let two nodes own one workflow)."""
    record = await store.read(PARTITIONS_NAMESPACE, COUNT_KEY)
    if record is None and partitions is not None:
        data = str(partitions).encode()
        try:
            await store.write([Put(PARTITIONS_NAMESPACE, COUNT_KEY, data, expected_version=0)])
        except VersionConflict:  # another node recorded it first: compare with that
            record = await store.read(PARTITIONS_NAMESPACE, COUNT_KEY)
        else:
            return
    if record is None:
        return  # no partitions, none recorded: one engine runs everything
    recorded = int(record.data.decode())
    if recorded != partitions:
        have = "no partitions" if partitions is None else f"partitions={partitions}"
        raise ValueError(
            f"the workflows of this store are split into {recorded} partitions owned by "
            f"nodes; open_workflows with {have} could run a workflow another node owns: "
            f"open it with partitions={recorded}"
        )


class Ownership:
    """The partitions this process owns now, with the fenced store of each.

    ``on_owned(number)`` runs (awaited) when a partition is taken, ``on_disowned(number)``
    when it is given up (its runs must stop at once).
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.stores: dict[int, FencedStore] = {}
        self.on_owned: Callable[[int], Any] | None = None
        self.on_disowned: Callable[[int], None] | None = None

    def owns(self, workflow_id: str) -> bool:
        """Whether this process runs ``workflow_id`` now."""
        return partition_of(workflow_id, self.count) in self.stores

    def store_of(self, workflow_id: str) -> FencedStore | None:
        """The fenced store of ``workflow_id``'s partition, None if not owned here."""
        return self.stores.get(partition_of(workflow_id, self.count))

    async def own(self, number: int, store: FencedStore) -> None:
        """The node holds partition ``number``'s lease: run its workflows."""
        self.stores[number] = store
        if self.on_owned is not None:
            with contextlib.suppress(StoreError, TimeoutError):  # the discovery reads again
                await self.on_owned(number)

    def disown(self, number: int) -> None:
        """The lease is given up or lost: stop the partition's runs."""
        store = self.stores.pop(number, None)
        if store is not None:
            store.revoke()
        if self.on_disowned is not None:
            self.on_disowned(number)


class WorkflowPartition(Actor):
    """The hosted actor of one partition: owns it while it runs (see the module)."""

    _bastion_framework = True

    def __init__(
        self, *, ownership: Ownership, number: int, store: StateStore, persistence_key: str
    ) -> None:
        if not isinstance(store, FencedStore):
            raise TypeError(f"{persistence_key}: a workflow partition runs under a cluster Node")
        self._ownership = ownership
        self._number = number
        self._store = store

    async def on_start(self) -> None:
        """Own the partition: the engine loads its active workflows."""
        await self._ownership.own(self._number, self._store)

    def on_stop(self, reason: ExitReason) -> None:
        """Give the partition up: its runs stop (their progress is in the store)."""
        self._ownership.disown(self._number)


def hosted_partitions(ownership: Ownership) -> list[Hosted]:
    """One :class:`~bastion.cluster.Hosted` per partition, keyed ``workflows.p<n>``.

    The keys are the store's, not an engine's: every engine on the store shares one
    active index, so all of them must contend for the same leases.
    """
    width = len(str(ownership.count - 1))
    return [
        Hosted(
            f"workflows.p{number:0{width}d}",
            WorkflowPartition,
            {"ownership": ownership, "number": number},
        )
        for number in range(ownership.count)
    ]


def _run_workflow(ops: Sequence[Op]) -> str | None:
    """The workflow whose run writes ``ops`` (every run batch bumps its fence record)."""
    for op in ops:
        if isinstance(op, Put) and op.key == FENCE and op.namespace.startswith(NAMESPACE_PREFIX):
            return workflow_id_of(op.namespace)
    return None


def _failed(error: BaseException) -> asyncio.Future[WriteResult]:
    fut: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
    fut.set_exception(error)
    return fut


class OwnedStore(ForwardingStore):
    """The store as the runs of a partitioned engine see it.

    A run's batch (it bumps its workflow's fence record) goes through the fenced store of
    the workflow's partition; the future fails with LeaseLost (the run ends as fenced)
    when the partition is not owned here or its lease is over. Everything else passes
    through unchanged (``close`` leaves the store to the engine's caller).
    """

    def __init__(self, store: StateStore, ownership: Ownership) -> None:
        super().__init__(store)
        self._ownership = ownership

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        """Submit a batch; a run's batch fenced by its partition's lease."""
        workflow_id = _run_workflow(ops)
        if workflow_id is None:
            return await self._store.submit(ops, sync=sync, defer=defer)
        fenced = self._ownership.store_of(workflow_id)
        if fenced is None:
            return _failed(
                LeaseLost(
                    f"workflow {workflow_id!r}: its partition is not owned by this node",
                    context={"workflow_id": workflow_id},
                )
            )
        try:
            return await fenced.submit(ops, sync=sync, defer=defer)
        except LeaseLost as lost:
            return _failed(lost)


class OwnedPagedStore(OwnedStore, PagedForwardingStore):
    """An :class:`OwnedStore` over a store that reads namespaces in pages."""


def owned_store(store: StateStore, ownership: Ownership) -> OwnedStore:
    """The runs' view of ``store`` (paged if ``store`` reads in pages)."""
    cls = OwnedPagedStore if isinstance(store, PagedLoad) else OwnedStore
    return cls(store, ownership)
