"""An actor whose call handler ignores its kill: what brutal kill and abandonment are for."""

from __future__ import annotations

import asyncio
from typing import Any

import bastion


class Stubborn(bastion.Actor):
    """Swallows every cancellation of its call handler (appending 1 to ``swallowed`` each
    time) until ``released`` is set, then answers ``"too late"``."""

    def __init__(self, released: asyncio.Event, swallowed: list[int]) -> None:
        self.released = released
        self.swallowed = swallowed

    async def handle_call(self, message: Any) -> Any:
        while not self.released.is_set():
            try:
                await self.released.wait()
            except asyncio.CancelledError:
                self.swallowed.append(1)  # ignores its kill
        return "too late"
