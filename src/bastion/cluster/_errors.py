"""Errors of the cluster layer (several nodes on one database)."""

from __future__ import annotations

from bastion.persistence import StoreError, VersionConflict

__all__ = ["LeaseLost", "NodeIdTaken"]


class LeaseLost(VersionConflict):
    """A lease holder's write was refused: its lease expired or another node took it over.

    Raised by a :class:`~bastion.cluster.FencedStore` before the write reaches the store
    (the holder's own clock says its lease is over) or when the store rejected the
    batch's fence (another node holds a newer token). Nothing of the batch was written.
    """


class NodeIdTaken(StoreError):
    """Another live process renews the heartbeat of this node id: node ids must be unique."""

    default_retryable = False
