"""Capture telemetry events for assertions -- never for synchronisation.

There is deliberately no "wait for an event" here: telemetry observes, it never
controls (DESIGN §3). Wait on the thing itself (``wait_for``, a probe, ``wait_idle``)
and then assert on what was emitted meanwhile.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bastion._core import _events

__all__ = ["CapturedEvent", "CapturedEvents", "capture_events"]

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class CapturedEvent:
    """One emitted event."""

    name: tuple[str, ...]
    measurements: Mapping[str, Any]
    metadata: Mapping[str, Any]


class CapturedEvents:
    """The events captured so far, in emission order."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[CapturedEvent] = []

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[CapturedEvent]:
        return iter(self.events)

    def names(self) -> list[tuple[str, ...]]:
        """The names of the captured events, in order."""
        return [e.name for e in self.events]

    def named(self, *name: str) -> list[CapturedEvent]:
        """The captured events called ``name``."""
        return [e for e in self.events if e.name == name]

    def count(self, *name: str) -> int:
        """How many events called ``name`` were captured."""
        return len(self.named(*name))


@contextmanager
def capture_events(*events: Iterable[str]) -> Iterator[CapturedEvents]:
    """Record the given telemetry events while the block runs::

    with capture_events(("bastion", "actor", "crash")) as captured:
        await crash(ref)
        await rt.wait_idle()
    assert captured.count("bastion", "actor", "crash") == 1
    """
    names = [tuple(e) for e in events]
    if not names:
        raise ValueError("capture_events() needs at least one event name")
    captured = CapturedEvents()
    handler_id = f"bastion.testing.capture.{next(_ids)}"

    def record(
        name: tuple[str, ...], measurements: Mapping[str, Any], metadata: Mapping[str, Any]
    ) -> None:
        captured.events.append(CapturedEvent(name, dict(measurements), dict(metadata)))

    _events.attach(handler_id, names, record)
    try:
        yield captured
    finally:
        _events.detach(handler_id)
