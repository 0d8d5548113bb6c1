"""What a cluster node runs and reports: :class:`Hosted` agents, :class:`NodeStatistics`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bastion._core._actor import Actor

__all__ = ["Hosted", "NodeStatistics"]


@dataclass(frozen=True, slots=True)
class Hosted:
    """An agent the cluster runs on exactly one node at a time.

    ``key`` names it: its actor name on the node that holds it, its persistence key
    (state in ``agent/<key>``) and its lease (``lease/agent/<key>``). ``kwargs`` go to
    the agent's constructor; the node adds ``store`` and ``persistence_key``.
    """

    key: str
    actor: type[Actor]
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key or "/" in self.key:
            raise ValueError(
                f"a hosted agent's key must be a non-empty str without '/': {self.key!r}"
            )
        if not (isinstance(self.actor, type) and issubclass(self.actor, Actor)):
            raise TypeError(f"hosted agent {self.key!r}: actor must be an Actor subclass")
        if "store" in self.kwargs or "persistence_key" in self.kwargs:
            raise ValueError(
                f"hosted agent {self.key!r}: the node passes store and persistence_key itself"
            )

    @property
    def owner(self) -> str:
        """The lease's owner key."""
        return f"agent/{self.key}"


@dataclass(frozen=True, slots=True)
class NodeStatistics:
    """A snapshot of a node: what it holds and what its lease machinery did."""

    node_id: str
    owned: tuple[str, ...]
    live_nodes: int
    lease_valid: bool
    renewals: int
    renew_failures: int
    check_failures: int
    acquired: int
    released: int
    stepped_down: int
    lost: int
