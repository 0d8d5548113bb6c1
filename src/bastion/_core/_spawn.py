"""Spawning: make an actor's cell, construct the actor, run its ``on_start``.

These functions are :class:`~bastion._core._runtime.Runtime` methods defined apart to
keep the runtime module small; ``Runtime`` binds ``spawn_cell`` as ``_spawn_cell``
(a class attribute, so no extra call), and it calls ``construct_actor`` directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bastion._core import _event_names, _events
from bastion._core._actor import NO_RESERVED_MEMBER, Actor, check_instance
from bastion._core._cell import RUNNING, Cell, handler_table
from bastion._core._cell_start import start
from bastion._core._durations import positive_seconds
from bastion._core._errors import RuntimeClosed, StartFailed, SupervisorError
from bastion._core._options import check_capacity
from bastion._core._ref import DEFAULT, ActorRef, UseDefault
from bastion._core._registry import check_name
from bastion._core._supervisor import Supervisor

if TYPE_CHECKING:
    from bastion._core._runtime import Runtime

__all__ = ["construct_actor", "spawn_cell"]

_OBJECT_INIT = object.__init__


async def spawn_cell(
    self: Runtime,
    actor_class: type[Actor],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    name: str | None,
    mailbox_capacity: int | None,
    metadata: Mapping[str, Any] | None,
    start_timeout: float | UseDefault,
    parent: Cell | None,
) -> ActorRef:
    """Spawn, optionally linked to a supervising ``parent`` cell (``Runtime._spawn_cell``)."""
    if self._closed:
        raise RuntimeClosed("the runtime is shutting down; no new actors")
    if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
        raise TypeError(f"spawn() needs a bastion.Actor subclass, got {actor_class!r}")
    if name is not None:
        check_name(name)
    capacity = (
        self.mailbox_capacity
        if mailbox_capacity is None
        else check_capacity(mailbox_capacity, "mailbox_capacity")
    )
    timeout = (
        self.call_timeout
        if start_timeout is DEFAULT
        else positive_seconds("start_timeout", start_timeout)
    )
    cell = Cell(self, next(self._ids), name, capacity)
    if self.meters is not None:
        cell.meter = self.meters.meter_for(actor_class)
    if name is not None:
        self.registry._claim(name, cell)
    try:
        construct_actor(cell, actor_class, args, kwargs)
    except BaseException:
        if name is not None:
            self.registry._release(name, cell)
        raise
    if metadata:
        cell.metadata.update(metadata)
    if parent is not None:
        cell.parent = parent
        cell.link_cell(parent)
        parent.link_cell(cell)
    self._cells[cell.id] = cell
    self._counts["spawned"] += 1
    if type(cell.actor).on_start is Actor.on_start and cell.kill_reason is None:
        # Nothing to start: the actor is running and dormant; it gets its task with
        # its first message, so idle actors cost no task and spawn needs no round trip.
        cell.state = RUNNING
        cell.parked = True  # (its limit is 0: the first send takes the slow path, and wakes it)
    else:
        self._busy += 1
        await start(cell, timeout)  # on_start runs here, then the actor is dormant the same way
    if _event_names.ACTOR_START in _events._routes:  # build the metadata only if routed
        _events.emit(_event_names.ACTOR_START, {"count": 1}, {"actor": repr(cell)})
    return cell.ref


def construct_actor(
    cell: Cell, actor_class: type[Actor], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> None:
    """Make the actor without its metaclass call and wire it to ``cell``."""
    actor = actor_class.__new__(actor_class)
    actor._bastion_cell = cell
    cell.actor = actor
    cell.handlers = handler_table(actor_class)
    try:
        actor.__init__(*args, **kwargs)  # type: ignore[misc]
        init = actor_class.__init__  # (check_instance's own early exit, without its call)
        if init is not _OBJECT_INIT and not getattr(init, NO_RESERVED_MEMBER, False):
            check_instance(actor)  # once per incarnation: no reserved member shadowed
    except (SupervisorError, ValueError, TypeError) as exc:
        if isinstance(exc, SupervisorError) or actor_class is Supervisor:
            raise  # invalid supervisor options are the caller's error, reported as is
        raise StartFailed(f"{actor_class.__qualname__}(...) raised {exc!r}") from exc
    except Exception as exc:
        raise StartFailed(f"{actor_class.__qualname__}(...) raised {exc!r}") from exc
