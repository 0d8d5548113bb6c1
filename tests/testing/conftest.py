"""Small actors for the toolkit's own tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bastion


@dataclass(frozen=True)
class Add:
    """Add ``n`` to a counter."""

    n: int


class Counter(bastion.Actor):
    """Counts casts of :class:`Add`; answers ``"get"``; ``"tick"`` timers add one each."""

    def __init__(self, start: int = 0, *, notify: bastion.ActorRef | None = None) -> None:
        self.count = start
        self.notify = notify

    def handle_cast(self, message: Any) -> None:
        if isinstance(message, Add):
            self.count += message.n
            if self.notify is not None:
                self.notify.cast_nowait(("count", self.count))

    def handle_call(self, message: Any) -> Any:
        if message == "get":
            return self.count
        if message == "boom":
            raise RuntimeError("boom")
        return None

    def handle_info(self, message: Any) -> None:
        if message == "tick":
            self.count += 1


class Ticker(bastion.Actor):
    """Sends itself ``"tick"`` every ``period`` seconds and counts them."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.ticks = 0
        self.timer: bastion.Timer | None = None

    def on_start(self) -> None:
        self.timer = self.send_interval(self.period, "tick")

    def handle_info(self, message: Any) -> None:
        if message == "tick":
            self.ticks += 1

    def handle_call(self, message: Any) -> Any:
        return self.ticks
