"""An in-process :class:`StateStore`: survives actor crashes, not the process.

Create it outside the actors that use it (in the code that starts the runtime, or a
test), so it outlives every actor incarnation. Writes apply immediately and
atomically (the event loop is single-threaded), so ``submit`` returns a done future.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bastion.persistence._errors import StoreClosed, VersionConflict
from bastion.persistence._protocol import (
    Delete,
    DeleteItem,
    Fence,
    NamespaceData,
    Op,
    Put,
    PutItem,
    QuarantineEntry,
    Record,
    StoreStatistics,
    WriteResult,
)
from bastion.telemetry import _hooks

__all__ = ["MemoryStore"]

_VERSIONED = (Put, Delete, Fence)  # ops checked against a record's version
_UNVERSIONED = frozenset({PutItem, DeleteItem})


@dataclass(slots=True)
class _Space:
    records: dict[str, Record] = field(default_factory=dict)
    collections: dict[str, dict[str, bytes]] = field(default_factory=dict)


class MemoryStore:
    """A dict-backed store for tests and for state that need not outlive the process."""

    def __init__(self) -> None:
        self._spaces: dict[str, _Space] = {}
        self._quarantine: list[tuple[QuarantineEntry, _Space]] = []
        self._batches = 0
        self._ops = 0
        self._conflicts = 0
        self._max_group = 0
        self._closed = False

    @property
    def backend(self) -> str:
        """``"memory"``."""
        return "memory"

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        """Apply the batch now; the returned future is already done."""
        fut: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        try:
            fut.set_result(self._apply(ops))
        except VersionConflict as exc:
            fut.set_exception(exc)
        return fut

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        """Apply the batch atomically."""
        return self._apply(ops)

    def _apply(self, ops: Sequence[Op]) -> WriteResult:
        self._check_open()
        self._check_versions(ops)
        versions: dict[tuple[str, str], int] = {}
        spaces = self._spaces
        for op in ops:
            space = spaces.get(op.namespace)
            if space is None:
                space = spaces[op.namespace] = _Space()
            if type(op) is PutItem:  # the item ops first: a TaskAgent writes two per task
                space.collections.setdefault(op.collection, {})[op.item] = op.data
                continue  # (the space holds this item: it stays)
            if type(op) is DeleteItem:
                self._delete_item(space, op)
            elif isinstance(op, Put):
                old = space.records.get(op.key)
                new = (old.version if old else 0) + 1
                space.records[op.key] = Record(op.data, new)
                versions[(op.namespace, op.key)] = new
            elif isinstance(op, Delete):
                space.records.pop(op.key, None)
                versions[(op.namespace, op.key)] = 0
            elif isinstance(op, PutItem):
                space.collections.setdefault(op.collection, {})[op.item] = op.data
            elif isinstance(op, DeleteItem):
                self._delete_item(space, op)
            if not space.records and not space.collections:
                del spaces[op.namespace]
        self._batches += 1
        self._ops += len(ops)
        self._max_group = max(self._max_group, 1)
        return WriteResult(versions)

    @staticmethod
    def _delete_item(space: _Space, op: DeleteItem) -> None:
        items = space.collections.get(op.collection)
        if items is not None:
            items.pop(op.item, None)
            if not items:
                del space.collections[op.collection]

    def _check_versions(self, ops: Sequence[Op]) -> None:
        seen: dict[tuple[str, str], int] = {}
        for op in ops:
            if type(op) in _UNVERSIONED or not isinstance(op, _VERSIONED):
                continue
            key = (op.namespace, op.key)
            if key not in seen:
                space = self._spaces.get(op.namespace)
                rec = space.records.get(op.key) if space else None
                seen[key] = rec.version if rec else 0
            expected = op.token if isinstance(op, Fence) else op.expected_version
            if expected is not None and expected != seen[key]:
                self._conflicts += 1
                raise VersionConflict(
                    f"{op.namespace}/{op.key}: expected version {expected}, found {seen[key]}",
                    context={"namespace": op.namespace, "key": op.key},
                )
            if not isinstance(op, Fence):
                seen[key] = seen[key] + 1 if isinstance(op, Put) else 0

    async def read(self, namespace: str, key: str) -> Record | None:
        """One record, or None."""
        self._check_open()
        space = self._spaces.get(namespace)
        return space.records.get(key) if space else None

    async def read_item(self, namespace: str, collection: str, item: str) -> bytes | None:
        """One item, or None."""
        self._check_open()
        space = self._spaces.get(namespace)
        return space.collections.get(collection, {}).get(item) if space else None

    async def load(self, namespace: str) -> NamespaceData:
        """A copy of everything under ``namespace``."""
        self._check_open()
        space = self._spaces.get(namespace, _Space())
        return NamespaceData(
            namespace,
            dict(space.records),
            {c: sorted(items.items()) for c, items in space.collections.items()},
        )

    async def namespaces(self, prefix: str = "") -> list[str]:
        """Sorted namespaces starting with ``prefix``."""
        self._check_open()
        return sorted(ns for ns in self._spaces if ns.startswith(prefix))

    async def drop(self, namespace: str) -> None:
        """Delete the namespace."""
        self._check_open()
        self._spaces.pop(namespace, None)

    async def quarantine(self, namespace: str, reason: str) -> QuarantineEntry:
        """Move the namespace aside."""
        self._check_open()
        _hooks.count("bastion_persistence_quarantines", "memory")
        space = self._spaces.pop(namespace, _Space())
        items = sum(len(c) for c in space.collections.values())
        entry = QuarantineEntry(namespace, reason, time.time(), len(space.records), items)
        self._quarantine.append((entry, space))
        return entry

    async def quarantined(self, prefix: str = "") -> list[QuarantineEntry]:
        """Quarantined namespaces, oldest first."""
        return [e for e, _ in self._quarantine if e.namespace.startswith(prefix)]

    async def close(self) -> None:
        """Mark the store closed; later operations raise :class:`StoreClosed`."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the memory store is closed")

    def statistics(self) -> StoreStatistics:
        """Counters since creation."""
        return StoreStatistics(
            backend="memory",
            batches=self._batches,
            ops=self._ops,
            commits=self._batches,
            conflicts=self._conflicts,
            pending_ops=0,
            max_group=self._max_group,
            quarantined=len(self._quarantine),
            closed=self._closed,
        )
