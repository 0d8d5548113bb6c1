"""``ray_placement(...)``: where a placed actor runs on the Ray cluster, and what crosses."""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion._core._actor import Actor
from bastion._core._durations import positive_seconds
from bastion.persistence import Codec, StateStore
from bastion.ray._wire import build_codec, encode_value, qualified_name

if TYPE_CHECKING:
    from bastion.ray._proxy import RayProxy

__all__ = ["RayPlacement", "StoreRecipe", "ray_placement"]


@dataclass(frozen=True, slots=True)
class StoreRecipe:
    """How the node opens the placed agent's state store (a store object cannot cross Ray).

    ``opener`` is an importable async callable that returns a store, called on the node
    with ``kwargs`` (JSON-able); the store is passed to the agent as ``argument`` and
    closed when the placed actor stops::

        StoreRecipe(SQLiteStore.open, {"path": "/shared/state.db"})
    """

    opener: Callable[..., Awaitable[StateStore]]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    argument: str = "store"

    def __post_init__(self) -> None:
        qualified_name(self.opener)  # TypeError now, not on the node
        if not isinstance(self.argument, str) or not self.argument.isidentifier():
            raise ValueError(f"argument must be a keyword name, got {self.argument!r}")


@dataclass(frozen=True)
class RayPlacement:
    """Run an actor in a Ray actor on the cluster; make one with :func:`ray_placement`.

    Give it to ``rt.spawn(..., placement=...)`` or ``ChildSpec(..., placement=...)``.
    """

    num_cpus: float | None = None
    resources: Mapping[str, float] = field(default_factory=dict)
    node_id: str | None = None
    soft: bool = True
    messages: tuple[type[Any], ...] = ()
    store: StoreRecipe | None = None
    call_timeout: float | None = None
    start_timeout: float = 60.0
    watch_period: float = 10.0

    @functools.cached_property
    def codec(self) -> Codec:
        """The codec of messages and replies (knows the declared message classes)."""
        return build_codec(self.messages)

    def place(
        self, actor_class: type[Actor], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[type[RayProxy], tuple[Any, ...], Mapping[str, Any]]:
        """The local stand-in for ``actor_class``: what ``spawn`` starts in its place.

        Checks now that the class is importable by name and the arguments encode.
        """
        from bastion.ray._proxy import RayProxy

        if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
            raise TypeError(f"spawn() needs a bastion.Actor subclass, got {actor_class!r}")
        name = qualified_name(actor_class)
        payload = encode_value(self.codec, [list(args), dict(kwargs)])
        return RayProxy, (self, name, payload), {}

    def ray_options(self) -> dict[str, Any]:
        """Keyword options of Ray's ``ActorClass.options`` for the host."""
        options: dict[str, Any] = {"max_restarts": 0, "max_task_retries": 0}
        if self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        if self.resources:
            options["resources"] = dict(self.resources)
        if self.node_id is not None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                self.node_id, soft=self.soft
            )
        return options


def ray_placement(
    *,
    num_cpus: float | None = None,
    resources: Mapping[str, float] | None = None,
    node_id: str | None = None,
    soft: bool = True,
    messages: Sequence[type[Any]] = (),
    store: StoreRecipe | None = None,
    call_timeout: float | None = None,
    start_timeout: float = 60.0,
    watch_period: float = 10.0,
) -> RayPlacement:
    """Where and how to place actors on the Ray cluster ``ray.init`` connected to.

    * ``num_cpus`` / ``resources``: what the host reserves (Ray's own meaning); the
      scheduler picks a node that has them.
    * ``node_id`` (with ``soft``): prefer (soft) or require (hard) that node. With a
      soft preference a restart after the node died lands on another node.
    * ``messages``: the dataclasses and msgspec Structs that messages, replies and
      constructor arguments contain (builtins, tuples, sets, datetimes, ... need none).
      They cross as JSON, so they must be importable on the workers.
    * ``store``: how the node opens the agent's state store (:class:`StoreRecipe`).
    * ``call_timeout``: the node-side deadline of each call and cast (default: the local
      runtime's ``call_timeout``); the caller's own deadline applies as for any call.
    * ``start_timeout``: seconds for Ray to start the host and the actor's ``on_start``
      (the spawn's own ``start_timeout`` must be at least as long).
    * ``watch_period``: seconds between the stand-in's "still there?" checks.
    """
    for what, value in (("start_timeout", start_timeout), ("watch_period", watch_period)):
        positive_seconds(what, value)
    if call_timeout is not None:
        positive_seconds("call_timeout", call_timeout)
    if num_cpus is not None and (not isinstance(num_cpus, int | float) or num_cpus < 0):
        raise ValueError(f"num_cpus must be a number >= 0, got {num_cpus!r}")
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (resources or {}).values()):
        raise ValueError(f"resources must map names to finite numbers, got {resources!r}")
    if store is not None and not isinstance(store, StoreRecipe):
        raise TypeError(f"store must be a StoreRecipe, got {store!r}")
    placement = RayPlacement(
        num_cpus=num_cpus,
        resources=dict(resources or {}),
        node_id=node_id,
        soft=soft,
        messages=tuple(messages),
        store=store,
        call_timeout=call_timeout,
        start_timeout=start_timeout,
        watch_period=watch_period,
    )
    _ = placement.codec  # every message class importable by name: TypeError now
    return placement
