"""``FencedStore``: the store as a lease holder's agents see it.

Every batch submitted through it carries the lease's :class:`~bastion.persistence.Fence`,
so the shared store commits it only while the lease's token is unchanged. Before a
batch leaves the process, the holder's own deadline is checked too: past it, the batch is
refused with :class:`LeaseLost` at once (a node whose lease ran out never writes, even
before anyone took over). Reads pass through. An agent written for one process runs on a
node unchanged: the node hands it a ``FencedStore`` instead of the shared store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from bastion.cluster._errors import LeaseLost
from bastion.cluster._forwarding import ForwardingStore, PagedForwardingStore
from bastion.cluster._lease import fence_for
from bastion.persistence import Op, StateStore, VersionConflict, WriteResult
from bastion.persistence._paged import PagedLoad

__all__ = ["FencedStore", "fenced_store"]


class FencedStore(ForwardingStore):
    """A :class:`~bastion.persistence.StateStore` whose writes are fenced by one lease.

    ``valid`` says whether the holder's lease still runs by its own clock; ``on_lost`` is
    called (once, synchronously) when a write is refused because the lease was lost,
    before the writer sees the error. Besides a batch, ``load`` (a restore would be
    pointless), ``load_head``, ``drop`` and ``quarantine`` (not atomic with the fence)
    raise LeaseLost once the lease is over; the other reads are not fenced.
    """

    def __init__(
        self,
        store: StateStore,
        owner: str,
        token: int,
        *,
        valid: Callable[[], bool],
        on_lost: Callable[[], None],
    ) -> None:
        super().__init__(store)
        self.owner = owner
        self.token = token
        self._fence = fence_for(owner, token)
        self._valid = valid
        self._on_lost = on_lost
        self._lost = False

    @property
    def lost(self) -> bool:
        """Whether a write was refused because the lease was lost (or :meth:`revoke`)."""
        return self._lost

    def revoke(self) -> None:
        """Refuse every later write (the node stepped down from this lease)."""
        self._lost = True

    async def _guard(self) -> None:
        """Raise LeaseLost if the lease is lost or over by the holder's clock.

        Noticing it here (the lease ran out while the holder was busy or frozen) calls
        ``on_lost`` first, in the writer's task: the node stops its agents there, so the
        yield below is where an agent's stop (a cancellation) lands, before any error
        could crash it.
        """
        if not self._lost and not self._valid():
            self._lose()
            await asyncio.sleep(0)
        if self._lost:
            raise LeaseLost(
                f"{self.owner}: this node's lease (token {self.token}) is over; "
                "the write was not sent",
                context={"owner": self.owner, "token": self.token},
            )

    def _lose(self) -> None:
        if not self._lost:
            self._lost = True
            self._on_lost()

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        """Submit the batch with the lease's fence; LeaseLost if the lease is over."""
        await self._guard()
        inner = await self._store.submit([self._fence, *ops], sync=sync, defer=defer)
        outer: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        if inner.done():
            self._settle(inner, outer)
        else:
            inner.add_done_callback(lambda f: self._settle(f, outer))
        return outer

    def _settle(
        self, inner: asyncio.Future[WriteResult], outer: asyncio.Future[WriteResult]
    ) -> None:
        if outer.done():
            return
        if inner.cancelled():
            outer.cancel()
            return
        error = inner.exception()
        if error is None:
            outer.set_result(inner.result())
        elif isinstance(error, VersionConflict) and self._is_fence(error):
            self._lose()
            lost = LeaseLost(
                f"{self.owner}: another node took the lease over (token {self.token} is "
                "stale); the batch was rejected whole",
                context={"owner": self.owner, "token": self.token},
            )
            lost.__cause__ = error
            outer.set_exception(lost)
        else:
            outer.set_exception(error)

    def _is_fence(self, error: VersionConflict) -> bool:
        context = error.context or {}
        return (
            context.get("namespace") == self._fence.namespace
            and context.get("key") == self._fence.key
        )

    async def close(self) -> None:
        """Refuse later writes; the shared store stays open (the node owns it)."""
        self._lost = True


class FencedPagedStore(FencedStore, PagedForwardingStore):
    """A :class:`FencedStore` over a store that reads namespaces in pages."""


def fenced_store(
    store: StateStore,
    owner: str,
    token: int,
    *,
    valid: Callable[[], bool],
    on_lost: Callable[[], None],
) -> FencedStore:
    """A fenced view of ``store`` (paged if ``store`` reads in pages)."""
    cls = FencedPagedStore if isinstance(store, PagedLoad) else FencedStore
    return cls(store, owner, token, valid=valid, on_lost=on_lost)
