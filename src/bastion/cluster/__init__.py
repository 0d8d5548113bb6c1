"""Several nodes on one shared store: leases with fencing tokens, failover of agents.

* :class:`Node` (an actor): one process's share of a cluster's :class:`Hosted` agents.
  Each agent is owned by exactly one node at a time through a lease; the node restores
  it from the shared store and runs it; when a node dies, the others take its agents
  over after the lease ``duration`` and restore them.
* :class:`FencedStore`: the store an owned agent writes through; each batch carries the
  lease's :class:`~bastion.persistence.Fence`, so the store rejects a stale owner's
  writes (:class:`LeaseLost`) instead of interleaving them.
* :class:`SharedQueue`: tasks any node takes (a per-task claim lease); each outcome is
  recorded once, fenced by the claim.
* :class:`LeaseOptions`: lease timing. No clocks are compared across machines: each node
  measures durations on its own monotonic clock (see ``docs/scale-out.md``).

The leases work on every :class:`~bastion.persistence.StateStore` that implements the
``Fence`` op (memory, SQLite shared by processes on one machine, PostgreSQL).
"""

from __future__ import annotations

from bastion._public import publish
from bastion.cluster._errors import LeaseLost, NodeIdTaken
from bastion.cluster._fenced import FencedStore
from bastion.cluster._lease import LeaseOptions
from bastion.cluster._node import Hosted, Node, NodeStatistics
from bastion.cluster._queue import Outcome, SharedQueue, TaskHandler

__all__ = [
    "FencedStore",
    "Hosted",
    "LeaseLost",
    "LeaseOptions",
    "Node",
    "NodeIdTaken",
    "NodeStatistics",
    "Outcome",
    "SharedQueue",
    "TaskHandler",
]

publish(globals(), "bastion.cluster")
