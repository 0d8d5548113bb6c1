"""Signal subscribers: health alerts counted, finished workflows announced."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from bastion import Actor
from bastion.agents import Signal

__all__ = ["AlertLog", "FinishLine"]


class AlertLog(Actor):
    """Subscribed to ``monitor.alert.*``: keeps a count per alert kind."""

    def __init__(self) -> None:
        self.raised: collections.Counter[str] = collections.Counter()

    def handle_cast(self, message: Any) -> None:
        """Count one alert signal."""
        if isinstance(message, Signal):
            self.raised[message.topic.rsplit(".", 1)[-1]] += 1

    def handle_call(self, message: Any) -> dict[str, int]:
        """Answer the counts so far."""
        return dict(self.raised)


class FinishLine(Actor):
    """Subscribed to ``workflow.*``: sets ``changed`` whenever a workflow finishes or stalls.

    The demo waits on ``changed`` instead of polling the coordinator on a timer.
    """

    def __init__(self, changed: asyncio.Event) -> None:
        self.changed = changed

    def handle_cast(self, message: Any) -> None:
        """Wake the waiting demo."""
        if isinstance(message, Signal):
            self.changed.set()
