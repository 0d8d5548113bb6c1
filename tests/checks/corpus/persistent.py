# rules: BAS8
# module: app.agents
import asyncio
import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar
from uuid import UUID

import msgspec

from bastion.agents import PersistentAgent


@dataclasses.dataclass
class Item:
    name: str


class Point(msgspec.Struct):
    x: int


class Plain:
    pass


class Good(PersistentAgent):
    persistent_fields: ClassVar[tuple[str, ...]] = (
        "count",
        "items",
        "seen",
        "when",
        "amount",
        "uid",
        "recent",
        "point",
        "note",
    )
    count: int = 0
    items: list[Item]
    seen: set[str]
    when: datetime | None = None
    amount: Decimal
    uid: UUID
    recent: deque[int]
    point: Point

    def __init__(self) -> None:
        self.note: str = ""
        self.lock = threading.Lock()


class Typo(PersistentAgent):
    persistent_fields = ("count", "totl")  # error: BAS801
    count: int = 0


class BadTypes(PersistentAgent):
    persistent_fields = {
        "lock": threading.Lock,  # error: BAS801
        "path": Path,  # error: BAS801
        "plain": Plain,  # error: BAS801
        "ok": dict[str, list[int]],
    }

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.path = Path(".")
        self.plain = Plain()
        self.ok = {}


class AnnotatedBad(PersistentAgent):
    persistent_fields = ("queue", "callback")  # error: BAS801, BAS801
    queue: asyncio.Queue[int]
    callback: "Callable[[], None]"


class Child(Good):
    persistent_fields = ("count", "extra")
    extra: str = ""


class UnknownBase(PersistentAgent, SomeMixin):
    persistent_fields = ("from_mixin",)
