"""Counts the health alerts the MonitorAgent raises on the signal bus."""

from __future__ import annotations

import collections
from typing import Any

from bastion._core._actor import Actor
from bastion.agents import Signal

__all__ = ["AlertLog"]


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
