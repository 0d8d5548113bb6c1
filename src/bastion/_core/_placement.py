"""The *placement* protocol: running an actor somewhere other than this process.

``rt.spawn(MyAgent, ..., placement=p)`` and ``ChildSpec(..., placement=p)`` ask ``p`` to
turn the actor's class and constructor arguments into a local stand-in (another actor
class and its arguments) before the spawn. The stand-in is an ordinary actor of this
runtime: it has an ordinary ref, it is linked to its supervisor, and it forwards its
messages to wherever ``p`` put the real actor (``bastion.ray`` puts it on a Ray
cluster). The kernel knows nothing of where: this protocol is all it sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bastion._core._actor import Actor

__all__ = ["Placement", "place"]


@runtime_checkable
class Placement(Protocol):
    """Where an actor runs; see the module docstring."""

    def place(
        self, actor_class: type[Actor], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[type[Actor], tuple[Any, ...], Mapping[str, Any]]:
        """The local stand-in to spawn instead: ``(stand_in_class, args, kwargs)``."""
        ...


def place(
    placement: Placement | None,
    actor_class: type[Actor],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> tuple[type[Actor], tuple[Any, ...], Mapping[str, Any]]:
    """What to spawn for ``actor_class`` under ``placement`` (itself when None)."""
    if placement is None:
        return actor_class, args, kwargs
    if not isinstance(placement, Placement):
        raise TypeError(f"placement must have a place() method, got {placement!r}")
    return placement.place(actor_class, args, kwargs)
