"""The kernel's placement hook: ``spawn(..., placement=)`` and ``ChildSpec(placement=)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

import bastion
from bastion.testing import crash, wait_for


class Counter(bastion.Actor):
    def __init__(self, start: int) -> None:
        self.count = start

    def handle_call(self, message: object) -> object:
        return ("counter", self.count)


class StandIn(bastion.Actor):
    """What a placement spawns instead: it says what it stands in for."""

    def __init__(self, target: str, args: tuple[Any, ...]) -> None:
        self.target = target
        self.args = args

    def handle_call(self, message: object) -> object:
        return ("stand-in", self.target, self.args)


class Recording:
    """A placement that swaps the actor for a :class:`StandIn` and records each placing."""

    def __init__(self) -> None:
        self.placed: list[tuple[type[bastion.Actor], tuple[Any, ...], dict[str, Any]]] = []

    def place(
        self, actor_class: type[bastion.Actor], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[type[bastion.Actor], tuple[Any, ...], Mapping[str, Any]]:
        self.placed.append((actor_class, args, dict(kwargs)))
        return StandIn, (actor_class.__name__, args), {}


async def test_spawn_with_a_placement_starts_its_stand_in(rt: bastion.Runtime) -> None:
    placement = Recording()
    ref = await rt.spawn(Counter, 7, name="counter", placement=placement)
    assert await ref.call("?", timeout=1.0) == ("stand-in", "Counter", (7,))
    assert placement.placed == [(Counter, (7,), {})]
    assert await rt.ref("counter").call("?", timeout=1.0) == ("stand-in", "Counter", (7,))
    plain = await rt.spawn(Counter, 1)  # no placement: the actor itself
    assert await plain.call("?", timeout=1.0) == ("counter", 1)
    await ref.stop()
    await plain.stop()


async def test_a_supervisor_places_its_child_again_at_every_restart(rt: bastion.Runtime) -> None:
    placement = Recording()
    spec = bastion.ChildSpec("c", Counter, args=(3,), placement=placement)
    sup = await rt.start_supervisor([spec])
    child = sup.child("c")
    assert await child.call("?", timeout=1.0) == ("stand-in", "Counter", (3,))
    await crash(child)
    await wait_for(lambda: len(placement.placed) == 2 and child.is_alive)
    assert await child.call("?", timeout=1.0) == ("stand-in", "Counter", (3,))
    await sup.stop()


async def test_a_placement_without_place_is_a_type_error(rt: bastion.Runtime) -> None:
    with pytest.raises(TypeError, match="place"):
        await rt.spawn(Counter, 1, placement=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="place"):
        bastion.ChildSpec("c", Counter, placement="here")  # type: ignore[arg-type]
    assert rt.statistics().actors == 0
