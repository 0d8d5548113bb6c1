"""Reading the supervision tree: every supervisor, its children and where each actor sits.

Supervisors are found among the live actors (their class is ``Supervisor``) and asked
``which_children`` through a :class:`~bastion.SupervisorHandle` with a short deadline; a
supervisor that does not answer in time (it is restarting a child, say) is shown with
the statistics it has and no child list until the next sample.
"""

from __future__ import annotations

import asyncio

from bastion._core._errors import ActorNotAlive, CallTimeout, NoSuchActor
from bastion._core._ref import ActorRef
from bastion._core._runtime import Runtime
from bastion._core._stats import ActorStatistics, SupervisorStatistics
from bastion._core._supervisor import ChildInfo, SupervisorHandle
from bastion.console._rows import ChildRow, SupervisorRow
from bastion.console._slices import CHECK_EVERY, Slicer

__all__ = [
    "READ_TIMEOUT",
    "Listings",
    "find_supervisor",
    "live_statistics",
    "read_statistics",
    "read_supervisors",
    "supervisor_handle",
]

#: How long the console waits for a supervisor's ``which_children``.
READ_TIMEOUT = 1.0
_SUPERVISOR_CLASS = "Supervisor"
_UNAVAILABLE = (ActorNotAlive, CallTimeout, NoSuchActor)


def supervisor_handle(ref: ActorRef) -> SupervisorHandle:
    """The handle of the supervisor behind ``ref``.

    A handle is what ``rt.start_supervisor`` returns; the console finds supervisors by
    their refs, so it wraps one the way the runtime does.
    """
    return SupervisorHandle._create(ref)


def live_statistics(rt: Runtime) -> dict[ActorRef, ActorStatistics]:
    """Every live actor's statistics, by its (incarnation) ref: one pass over the actors."""
    table = {}
    for ref in rt.actors():
        try:
            table[ref] = ref.statistics()
        except NoSuchActor:
            continue
    return table


async def read_statistics(rt: Runtime, slicer: Slicer) -> dict[ActorRef, ActorStatistics]:
    """:func:`live_statistics`, walked in slices (the loop runs between them)."""
    table = {}
    for n, ref in enumerate(rt.actors()):
        if n % CHECK_EVERY == 0:
            await slicer.pause()
        try:
            table[ref] = ref.statistics()
        except NoSuchActor:
            continue
    return table


#: A supervisor's last child listing and the statistics it was read at, by actor id.
Listings = dict[int, tuple[tuple[int, int, int, int], list[ChildInfo] | None]]


def _signature(s: SupervisorStatistics) -> tuple[int, int, int, int]:
    return (s.children, s.alive_children, s.restarts, s.pending_restarts)


def _supervisor_refs(
    table: dict[ActorRef, ActorStatistics],
) -> list[tuple[ActorRef, int, str | None]]:
    return [
        (ref, s.id, s.name)
        for ref, s in table.items()
        if s.actor_class == _SUPERVISOR_CLASS and s.alive
    ]


def find_supervisor(rt: Runtime, supervisor_id: str) -> SupervisorHandle | None:
    """The supervisor with this API id (its registered name, else its actor id), or None."""
    for ref, actor_id, name in _supervisor_refs(live_statistics(rt)):
        if supervisor_id == (name if name is not None else str(actor_id)):
            return supervisor_handle(ref)
    return None


async def _children(handle: SupervisorHandle) -> list[ChildInfo] | None:
    try:
        return await handle.which_children(timeout=READ_TIMEOUT)
    except _UNAVAILABLE:
        return None


def _actor_id(info: ChildInfo, table: dict[ActorRef, ActorStatistics]) -> int | None:
    if info.ref is None or not info.alive:
        return None
    stats = table.get(info.ref)  # a child's ref is its incarnation's ref, as in rt.actors()
    return stats.id if stats is not None else None


async def _listings(
    found: list[tuple[ActorRef, int, str | None]],
    handles: list[SupervisorHandle],
    cache: Listings | None,
    slicer: Slicer,
) -> list[list[ChildInfo] | None]:
    """Each supervisor's children: asked again only if its counts moved since the last
    listing in ``cache`` (a 10,000-child listing is one long turn of the supervisor)."""
    if cache is None:
        return list(await slicer.wait(asyncio.gather(*(_children(h) for h in handles))))
    signatures: list[tuple[int, int, int, int] | None] = []
    for handle in handles:
        try:
            signatures.append(_signature(handle.statistics()))
        except ActorNotAlive:
            signatures.append(None)
    stale = [
        i for i, (_, actor_id, _) in enumerate(found)
        if signatures[i] is None or cache.get(actor_id, (None, None))[0] != signatures[i]
    ]  # fmt: skip
    fresh = await slicer.wait(asyncio.gather(*(_children(handles[i]) for i in stale)))
    for i, listing in zip(stale, fresh, strict=True):
        signature = signatures[i]
        if listing is not None and signature is not None:
            cache[found[i][1]] = (signature, listing)
    live = {actor_id for _, actor_id, _ in found}
    for gone in [k for k in cache if k not in live]:
        del cache[gone]
    answers = dict(zip(stale, fresh, strict=True))
    return [
        answers[i] if i in answers else cache[actor_id][1]
        for i, (_, actor_id, _) in enumerate(found)
    ]


async def read_supervisors(
    table: dict[ActorRef, ActorStatistics],
    restarts: dict[tuple[str, str], int],
    *,
    cache: Listings | None = None,
    slicer: Slicer | None = None,
) -> tuple[dict[str, SupervisorRow], dict[int, tuple[str, str]]]:
    """Every supervisor by API id, and each supervised actor's (supervisor id, child id).

    ``table`` holds every live actor's statistics (:func:`live_statistics`).
    ``restarts`` maps (supervisor label, child id) to a restart count, as the
    ``bastion_restarts`` metric labels them (the supervisor's name, else its class).
    ``cache`` keeps child listings between calls (see :func:`_listings`); ``slicer``
    spreads the walk over turns of the loop.
    """
    slicer = slicer if slicer is not None else Slicer()
    found = _supervisor_refs(table)
    sid_of = {
        actor_id: (name if name is not None else str(actor_id)) for _, actor_id, name in found
    }
    handles = [supervisor_handle(ref) for ref, _, _ in found]
    listings = await _listings(found, handles, cache, slicer)
    placement: dict[int, tuple[str, str]] = {}
    rows: dict[str, list[ChildRow]] = {}
    for (_, actor_id, name), listing in zip(found, listings, strict=True):
        sid = sid_of[actor_id]
        label = name if name is not None else _SUPERVISOR_CLASS
        children = []
        for n, info in enumerate(listing or ()):
            if n % CHECK_EVERY == 0:
                await slicer.pause()
            child_actor = _actor_id(info, table)
            if child_actor is not None:
                placement[child_actor] = (sid, info.id)
            nested = sid_of.get(child_actor) if child_actor is not None else None
            children.append(
                ChildRow(info.id, info.actor_class, info.restart.value, info.alive, child_actor,
                         restarts.get((label, info.id), 0), nested)
            )  # fmt: skip
        rows[sid] = children
    result: dict[str, SupervisorRow] = {}
    for (_, actor_id, name), handle in zip(found, handles, strict=True):
        sid = sid_of[actor_id]
        try:
            s = handle.statistics()
        except ActorNotAlive:
            continue
        parent, child_id = placement.get(actor_id, (None, None))
        used = s.restarts_in_window / s.max_restarts if s.max_restarts else 0.0
        result[sid] = SupervisorRow(
            sid, actor_id, name, s.strategy, s.children, s.alive_children, s.restarts,
            s.restarts_in_window, s.max_restarts, s.max_seconds, round(used, 4),
            s.pending_restarts, parent, child_id, tuple(rows[sid]),
        )  # fmt: skip
    return result, placement
