"""The telemetry event bus: ``emit``, ``attach``, ``detach`` and ``span``.

Modelled on Erlang's ``:telemetry``. Handlers run inline in the emitting code, in
attach order. A handler that raises is detached and the failure is logged, so a broken
handler can never break the code that emits. Nothing in Bastion waits on an event:
telemetry observes, it never controls.

When no handler is attached to an event, ``emit`` costs one dict lookup.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "EventName",
    "EventBusStatistics",
    "Handler",
    "attach",
    "attached_handlers",
    "detach",
    "emit",
    "listened",
    "span",
    "statistics",
]

EventName: TypeAlias = tuple[str, ...]
Handler: TypeAlias = Callable[[EventName, Mapping[str, Any], Mapping[str, Any]], object]

_log = logging.getLogger("bastion.telemetry")
_EMPTY: Mapping[str, Any] = {}

# event name -> list of (handler_id, handler); rebuilt on attach/detach, read on emit.
_routes: dict[EventName, tuple[tuple[str, Handler], ...]] = {}
_ids: dict[str, tuple[EventName, ...]] = {}
_failed_handlers = 0


@dataclass(frozen=True, slots=True)
class EventBusStatistics:
    """A snapshot of the event bus."""

    handlers: int
    routes: int
    failed_handlers_detached: int


def attach(handler_id: str, events: Iterable[EventName], handler: Handler) -> None:
    """Call ``handler(event, measurements, metadata)`` on each of ``events``.

    Raises :class:`ValueError` if ``handler_id`` is attached already or ``events`` is empty.
    """
    names = tuple(tuple(e) for e in events)
    if not names:
        raise ValueError("attach() needs at least one event name")
    if any(not name or not all(isinstance(p, str) for p in name) for name in names):
        raise ValueError(f"event names are non-empty tuples of str, got {names!r}")
    if handler_id in _ids:
        raise ValueError(f"a telemetry handler with id {handler_id!r} is attached already")
    if not callable(handler):
        raise TypeError(f"handler must be callable, got {handler!r}")
    _ids[handler_id] = names
    for name in names:
        _routes[name] = (*_routes.get(name, ()), (handler_id, handler))


def detach(handler_id: str) -> bool:
    """Detach a handler. Returns ``False`` if it was not attached."""
    names = _ids.pop(handler_id, None)
    if names is None:
        return False
    for name in names:
        remaining = tuple(r for r in _routes.get(name, ()) if r[0] != handler_id)
        if remaining:
            _routes[name] = remaining
        else:
            _routes.pop(name, None)
    return True


def attached_handlers() -> dict[str, tuple[EventName, ...]]:
    """Handler ids and the events each listens to."""
    return dict(_ids)


def emit(
    event: EventName,
    measurements: Mapping[str, Any] = _EMPTY,
    metadata: Mapping[str, Any] = _EMPTY,
) -> None:
    """Deliver an event to every attached handler, inline. Never raises for a handler."""
    routes = _routes.get(event)
    if routes is None:
        return
    for handler_id, handler in routes:
        try:
            handler(event, measurements, metadata)
        except Exception:  # noqa: BLE001 -- a broken handler is detached, never allowed to break the emitter
            _detach_failed(handler_id, event)


def listened(events: Iterable[EventName]) -> bool:
    """Whether a handler is attached to one of ``events`` (one C-level set check).

    Lets a hot path skip building the metadata of a span nobody listens to.
    """
    return not _routes.keys().isdisjoint(events)


def _detach_failed(handler_id: str, event: EventName) -> None:
    global _failed_handlers
    _failed_handlers += 1
    detach(handler_id)
    _log.exception("telemetry handler %r failed on event %r and was detached", handler_id, event)


@contextmanager
def span(prefix: EventName, metadata: Mapping[str, Any] = _EMPTY) -> Iterator[dict[str, Any]]:
    """Emit ``prefix + ("start",)``, then ``("stop",)`` or ``("exception",)``.

    Yields a dict the body may fill with extra stop metadata. Durations are in ns
    (``duration_ns``). The exception is re-raised unchanged::

        with span(("myapp", "fetch"), {"url": url}):
            ...
    """
    extra: dict[str, Any] = {}
    start = time.perf_counter_ns()
    emit((*prefix, "start"), {"monotonic_time_ns": start}, metadata)
    try:
        yield extra
    except BaseException as exc:
        emit(
            (*prefix, "exception"),
            {"duration_ns": time.perf_counter_ns() - start},
            {**metadata, **extra, "kind": type(exc).__name__, "reason": exc},
        )
        raise
    emit((*prefix, "stop"), {"duration_ns": time.perf_counter_ns() - start}, {**metadata, **extra})


def statistics() -> EventBusStatistics:
    """A snapshot: attached handlers, routed event names, failed handlers detached."""
    return EventBusStatistics(len(_ids), len(_routes), _failed_handlers)
