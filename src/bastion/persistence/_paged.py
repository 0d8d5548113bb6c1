"""Reading a namespace in pages: what a large agent needs first, then the rest.

A namespace with a 100,000-task queue cannot be read and decoded whole before its agent
dispatches anything. A store that implements :class:`PagedLoad` (SQLite) answers
:meth:`~PagedLoad.load_head` with the records, the small collections, and the first page
of one *ordered* collection (items written with ``PutItem.order``, lowest order first);
the agent then reads the rest with :meth:`~PagedLoad.load_page` while it runs, and
collections it named in ``skip`` (a TaskAgent's finished outcomes) whenever it wants.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bastion.persistence._protocol import NamespaceData

__all__ = ["Cursor", "NamespaceHead", "PageRow", "PagedLoad"]

PageRow = tuple[str, bytes, int | None]
"""One item of a page: ``(item key, data, order)``."""
Cursor = tuple[int, str]
"""Where a page ended: the ``(order, item key)`` of its last row."""


@dataclass(frozen=True, slots=True)
class NamespaceHead:
    """The start of a namespace (``load_head``).

    ``data``: the records and every collection except the ordered one and the skipped
    ones. ``page``: the first rows of the ordered collection, lowest order first.
    ``bands``: how many rows of the ordered collection there are per ``order >> shift``
    (all rows, ``page`` included). ``complete``: ``page`` holds every row of the
    collection; then no ``load_page`` is needed (this is also the answer for rows stored
    without an order, by earlier versions: they are all returned, in key order).
    """

    data: NamespaceData
    page: list[PageRow]
    bands: dict[int, int]
    complete: bool


@runtime_checkable
class PagedLoad(Protocol):
    """A store that can read a namespace in pages (optional, beside ``StateStore``)."""

    async def load_head(
        self,
        namespace: str,
        ordered: str,
        limit: int,
        *,
        shift: int = 0,
        skip: Collection[str] = (),
    ) -> NamespaceHead:
        """The records and small collections, and the first ``limit`` rows of ``ordered``."""
        ...

    async def load_page(
        self, namespace: str, collection: str, after: Cursor, limit: int
    ) -> list[PageRow]:
        """The next ``limit`` rows of an ordered collection after ``after``, in order."""
        ...

    async def load_items(
        self, namespace: str, collection: str, after: str, limit: int
    ) -> list[tuple[str, bytes]]:
        """The next ``limit`` items of any collection with a key after ``after``, by key."""
        ...
