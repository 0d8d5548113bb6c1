"""Agents placed on a Ray cluster: ``rt.spawn(MyAgent, placement=ray_placement(...))``.

The placed actor runs in a Ray actor (a *host*) on some node, inside a Bastion runtime
of its own; this process keeps a local stand-in with an ordinary ref. Calls cross with
the same deadlines and the same expected-vs-crash routing as local calls; the death of
the host's process or node is the stand-in's crash, so its supervisor restarts it per
strategy and the agent's state is restored from its store on another node. Nothing
crosses Ray pickled by Bastion: messages, replies and arguments are msgspec JSON bytes.
Needs the ``ray`` extra (``pip install 'bastion[ray]'``); see ``docs/scale-out.md``.
"""

from __future__ import annotations

try:
    import ray as _ray  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("bastion.ray needs Ray: pip install 'bastion[ray]' (ray>=2.60)") from exc

from bastion._public import publish
from bastion.ray._errors import (
    NodeLost,
    PlacementError,
    RemoteCrash,
    RemoteExpectedError,
    WireError,
)
from bastion.ray._placement import RayPlacement, StoreRecipe, ray_placement
from bastion.ray._proxy import Location, RayProxy, where

__all__ = [
    "Location",
    "NodeLost",
    "PlacementError",
    "ray_placement",
    "RayPlacement",
    "RayProxy",
    "RemoteCrash",
    "RemoteExpectedError",
    "StoreRecipe",
    "where",
    "WireError",
]

publish(globals(), "bastion.ray")
