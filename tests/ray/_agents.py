"""Actors the Ray tests place: importable by name on the Ray workers (tests.ray._agents)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import bastion
from bastion.agents import ItemMap, PersistentAgent, action


@dataclass(frozen=True)
class Get:
    key: str


@dataclass(frozen=True)
class Put:
    key: str
    value: int


@dataclass(frozen=True)
class Refuse:
    why: str


@dataclass(frozen=True)
class Explode:
    why: str


@dataclass(frozen=True)
class Slow:
    seconds: float


@dataclass(frozen=True)
class AskChild:
    key: str


MESSAGES = (Get, Put, Refuse, Explode, Slow, AskChild)


class Table(bastion.Actor):
    """A key-value table: calls read, casts write; two messages fail on purpose."""

    def __init__(self, start: dict[str, int]) -> None:
        self.data = dict(start)

    async def handle_call(self, message: object) -> object:
        match message:
            case Get(key):
                return self.data.get(key)
            case Refuse(why):
                raise bastion.BusinessError(why, context={"key": "k"})
            case Explode(why):
                raise RuntimeError(why)
            case Slow(seconds):  # answered by a timer: a handler that takes `seconds`
                self.send_after(seconds, (self.reply_handle(), seconds))
                return bastion.NoReply
        raise bastion.ValidationError(f"unknown message {message!r}")

    def handle_info(self, message: object) -> None:
        if isinstance(message, tuple):
            handle, seconds = message
            handle.reply(seconds)

    def handle_cast(self, message: object) -> None:
        if isinstance(message, Put):
            self.data[message.key] = message.value


class Parent(bastion.Actor):
    """Starts a Table next to it on its node and asks it in-process."""

    async def on_start(self) -> None:
        self.child = await self.runtime.spawn(Table, {"a": 1})

    async def handle_call(self, message: object) -> object:
        assert isinstance(message, AskChild)
        value = await self.child.call(Get(message.key), timeout=1.0)
        # the child's ref is a kernel ref in this process: no Ray hop between them
        return [value, type(self.child).__name__, os.getpid()]


class Ledger(PersistentAgent):
    """Records task ids; the test checks that every acknowledged one survives."""

    persistent_fields = ("tasks",)
    tasks: ItemMap[int] = ItemMap()

    @action
    def record(self, task: str) -> int:
        self.tasks[task] = len(self.tasks) + 1
        return len(self.tasks)

    @action
    def ids(self) -> list[str]:
        return sorted(self.tasks)
