"""``ForwardingStore``: a store view that passes every call on to a shared store.

The views a lease holder's code writes through (:class:`~bastion.cluster.FencedStore`,
and the workflow partitions' ``OwnedStore``) differ only in how a batch is submitted and
in a check before the calls that act for the owner; everything else passes through here
once. :class:`PagedForwardingStore` adds the paged reads of a store that implements
:class:`~bastion.persistence._paged.PagedLoad`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from bastion.persistence import (
    NamespaceData,
    Op,
    QuarantineEntry,
    Record,
    StateStore,
    StoreStatistics,
    WriteResult,
)
from bastion.persistence._paged import Cursor, NamespaceHead, PagedLoad, PageRow

__all__ = ["ForwardingStore", "PagedForwardingStore"]


class ForwardingStore:
    """A :class:`~bastion.persistence.StateStore` that passes every call on to ``store``.

    :meth:`_guard` is awaited before the calls that act for the view's owner (``load``,
    ``load_head``, ``drop``, ``quarantine``); it does nothing here. :meth:`close` leaves the
    shared store open: whoever opened it closes it.
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def _guard(self) -> None:
        """Raise if the owner may no longer act through this view (nothing here)."""

    @property
    def backend(self) -> str:
        """The shared store's backend name."""
        return self._store.backend

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        """Submit a batch to the shared store."""
        return await self._store.submit(ops, sync=sync, defer=defer)

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        """Submit the batch (through :meth:`submit`) and wait until it is committed."""
        return await (await self.submit(ops, sync=sync))

    async def read(self, namespace: str, key: str) -> Record | None:
        """One record."""
        return await self._store.read(namespace, key)

    async def read_item(self, namespace: str, collection: str, item: str) -> bytes | None:
        """One collection item."""
        return await self._store.read_item(namespace, collection, item)

    async def load(self, namespace: str) -> NamespaceData:
        """A namespace (after :meth:`_guard`)."""
        await self._guard()
        return await self._store.load(namespace)

    async def namespaces(self, prefix: str = "") -> list[str]:
        """Namespaces with data."""
        return await self._store.namespaces(prefix)

    async def drop(self, namespace: str) -> None:
        """Drop a namespace (after :meth:`_guard`)."""
        await self._guard()
        await self._store.drop(namespace)

    async def quarantine(self, namespace: str, reason: str) -> QuarantineEntry:
        """Quarantine a namespace (after :meth:`_guard`)."""
        await self._guard()
        return await self._store.quarantine(namespace, reason)

    async def quarantined(self, prefix: str = "") -> list[QuarantineEntry]:
        """Quarantined namespaces."""
        return await self._store.quarantined(prefix)

    async def close(self) -> None:
        """Nothing: the shared store stays open (its opener closes it)."""

    def statistics(self) -> StoreStatistics:
        """The shared store's statistics."""
        return self._store.statistics()


class PagedForwardingStore(ForwardingStore):
    """A :class:`ForwardingStore` over a store that reads namespaces in pages."""

    def _paged(self) -> PagedLoad:
        store = self._store
        assert isinstance(store, PagedLoad)
        return store

    async def load_head(
        self,
        namespace: str,
        ordered: str,
        limit: int,
        *,
        shift: int = 0,
        skip: Collection[str] = (),
    ) -> NamespaceHead:
        """The first page of a namespace (a TaskAgent's restore; after :meth:`_guard`)."""
        await self._guard()
        return await self._paged().load_head(namespace, ordered, limit, shift=shift, skip=skip)

    async def load_page(
        self, namespace: str, collection: str, after: Cursor, limit: int
    ) -> list[PageRow]:
        """The next page of an ordered collection."""
        return await self._paged().load_page(namespace, collection, after, limit)

    async def load_items(
        self, namespace: str, collection: str, after: str, limit: int
    ) -> list[tuple[str, bytes]]:
        """The next items of a collection by key."""
        return await self._paged().load_items(namespace, collection, after, limit)
