"""The :class:`StateStore` protocol and the data it moves.

A store holds *namespaces* (one per agent, e.g. ``"agent/task-1"``). A namespace has

* **records**: ``key -> (version, bytes)``. Every write bumps the version; a write may
  carry ``expected_version`` (compare-and-set, ``0`` = must not exist) so that two
  writers of one namespace (a zombie incarnation, another node) cannot both win;
* **collections** of **items**: ``(collection, item) -> bytes``, written and deleted one
  item at a time, so the cost of a mutation does not grow with the size of the
  collection (no whole-state rewrite).

Writes come in batches that commit atomically; a batch whose compare-and-set fails is
rejected whole with :class:`VersionConflict`. A :class:`Fence` op writes nothing: it makes
its batch conditional on a record's version (the fencing token of a lease, see
``bastion.cluster``), checked in the same transaction as the batch's writes. Backends may
commit many batches, from many agents, in one transaction (group commit) but keep each
batch atomic and apply batches in submission order, so a read issued after a write sees
it.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias, runtime_checkable

__all__ = [
    "Delete",
    "DeleteItem",
    "Durability",
    "Fence",
    "NamespaceData",
    "Op",
    "Put",
    "PutItem",
    "QuarantineEntry",
    "Record",
    "StateStore",
    "StoreStatistics",
    "WriteResult",
]


class Durability(enum.StrEnum):
    """How long a caller waits before a write counts as acknowledged.

    ========  =========================================  ==================================
    mode      acknowledged when                          survives
    ========  =========================================  ==================================
    memory    handed to the store (no wait)              actor crash
    batched   its group commit is in the WAL (default)   actor crash, ``kill -9`` of the process
    strict    its group commit is fsynced                also OS crash and power loss
    ========  =========================================  ==================================

    The store sets the ceiling: with :class:`MemoryStore` every mode survives actor
    crashes only.
    """

    MEMORY = "memory"
    BATCHED = "batched"
    STRICT = "strict"


@dataclass(frozen=True, slots=True)
class Put:
    """Write record ``key``; with ``expected_version`` only if it is at that version."""

    namespace: str
    key: str
    data: bytes
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete record ``key`` (a no-op if absent, unless ``expected_version`` is given)."""

    namespace: str
    key: str
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class PutItem:
    """Insert or replace one item of a collection.

    ``order``: where the item sorts in its collection for a store that can read a
    collection in pages in that order (SQLite: ``load_head`` / ``load_page``, used to
    restore a large task queue highest priority first); None for unordered items.
    """

    namespace: str
    collection: str
    item: str
    data: bytes
    order: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """Delete one item of a collection (a no-op if absent)."""

    namespace: str
    collection: str
    item: str


@dataclass(frozen=True, slots=True)
class Fence:
    """Commit the batch only if record ``key`` of ``namespace`` is at version ``token``.

    Writes nothing. A lease holder puts one in each of its batches, naming its lease's
    holder record and the version it acquired (its fencing token): once another node
    takes the lease over (a write that bumps that version), the old holder's batches are
    rejected whole with :class:`VersionConflict`, atomically with their writes. ``0``
    means the record must not exist.
    """

    namespace: str
    key: str
    token: int


Op: TypeAlias = Put | Delete | PutItem | DeleteItem | Fence


@dataclass(frozen=True, slots=True)
class Record:
    """A stored record: its bytes and version (1 after the first write)."""

    data: bytes
    version: int


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The new version of every record a batch wrote (``0`` for a deleted record)."""

    versions: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NamespaceData:
    """Everything stored under one namespace; items in item-key order."""

    namespace: str
    records: dict[str, Record]
    collections: dict[str, list[tuple[str, bytes]]]

    @property
    def empty(self) -> bool:
        """True if nothing is stored under the namespace."""
        return not self.records and not self.collections


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A namespace moved aside because its data could not be used."""

    namespace: str
    reason: str
    at: float
    records: int
    items: int


@dataclass(frozen=True, slots=True)
class StoreStatistics:
    """A snapshot of a store's activity."""

    backend: str
    batches: int
    ops: int
    commits: int
    conflicts: int
    pending_ops: int
    max_group: int
    quarantined: int
    closed: bool


@runtime_checkable
class StateStore(Protocol):
    """What agents need from a store. All backends pass ``tests/persistence/test_contract.py``."""

    @property
    def backend(self) -> str:
        """A short backend name: ``"memory"``, ``"sqlite"``, ..."""
        ...

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        """Queue one atomic batch and return a future of its result without waiting.

        Batches are applied in submission order. ``sync=True`` asks for an fsynced commit.
        ``defer=True`` says nobody waits for this batch now: a backend may hold it back
        for a bounded time (SQLite: ``flush_interval``) to commit it with others. Awaits
        only if the store's bounded queue is full.
        """
        ...

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        """Submit a batch and wait until it is committed."""
        ...

    async def read(self, namespace: str, key: str) -> Record | None:
        """One record, or None; sees every batch submitted before it."""
        ...

    async def read_item(self, namespace: str, collection: str, item: str) -> bytes | None:
        """One collection item, or None."""
        ...

    async def load(self, namespace: str) -> NamespaceData:
        """All records and collections of a namespace."""
        ...

    async def namespaces(self, prefix: str = "") -> list[str]:
        """Namespaces holding data, sorted, that start with ``prefix``."""
        ...

    async def drop(self, namespace: str) -> None:
        """Delete everything under a namespace."""
        ...

    async def quarantine(self, namespace: str, reason: str) -> QuarantineEntry:
        """Move a namespace's data aside (kept for inspection) and leave it empty."""
        ...

    async def quarantined(self, prefix: str = "") -> list[QuarantineEntry]:
        """Quarantined namespaces, oldest first."""
        ...

    async def close(self) -> None:
        """Flush pending batches and release resources. Idempotent."""
        ...

    def statistics(self) -> StoreStatistics:
        """A snapshot of the store's counters."""
        ...
