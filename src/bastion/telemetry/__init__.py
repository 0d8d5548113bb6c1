"""Telemetry: the event bus (``emit``/``attach``/``detach``/``span``)."""

from __future__ import annotations

from bastion._core._events import (
    EventBusStatistics,
    EventName,
    Handler,
    attach,
    attached_handlers,
    detach,
    emit,
    span,
    statistics,
)
from bastion._public import publish

__all__ = [
    "attach",
    "attached_handlers",
    "detach",
    "emit",
    "EventBusStatistics",
    "EventName",
    "Handler",
    "span",
    "statistics",
]

publish(globals(), "bastion.telemetry")
