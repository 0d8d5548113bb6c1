"""Actors shared by the kernel tests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import bastion


class Boom(Exception):
    """The crash the test actors raise on request."""


class Echo(bastion.Actor):
    """Replies with what it gets; crashes on ``"crash"``; records casts and infos."""

    starts = 0

    def __init__(self, tag: str = "") -> None:
        self.tag = tag
        self.casts: list[Any] = []
        self.infos: list[Any] = []
        type(self).starts += 1

    def handle_call(self, message: Any) -> Any:
        if message == "crash":
            raise Boom("requested crash")
        if message == "invalid":
            raise bastion.ValidationError("invalid request", code="bad_input")
        if message == "state":
            return {"tag": self.tag, "casts": list(self.casts), "infos": list(self.infos)}
        return message

    def handle_cast(self, message: Any) -> None:
        if message == "crash":
            raise Boom("requested crash")
        self.casts.append(message)

    def handle_info(self, message: Any) -> None:
        self.infos.append(message)


class Gate(bastion.Actor):
    """Blocks in its call handler until the test opens the gate."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def handle_call(self, message: Any) -> Any:
        if message == "block":
            await self.gate.wait()
        return message

    def handle_cast(self, message: Any) -> None:
        return None


class Recorder(bastion.Actor):
    """Forwards every info and cast to an asyncio.Queue the test reads."""

    def __init__(self, inbox: asyncio.Queue[Any]) -> None:
        self.inbox = inbox

    def handle_info(self, message: Any) -> None:
        self.inbox.put_nowait(message)

    def handle_cast(self, message: Any) -> None:
        self.inbox.put_nowait(message)

    def handle_call(self, message: Any) -> Any:
        return message


async def next_item(queue: asyncio.Queue[Any], timeout: float = 2.0) -> Any:
    """The next item of ``queue``; fails the test after ``timeout``."""
    async with asyncio.timeout(timeout):
        return await queue.get()


@pytest.fixture(autouse=True)
def _reset_counters() -> None:
    Echo.starts = 0


async def until(predicate: Any, *, steps: int = 200) -> None:
    """Let the loop run (no clock time passes) until ``predicate()`` holds."""
    for _ in range(steps):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"condition never held: {predicate}")
