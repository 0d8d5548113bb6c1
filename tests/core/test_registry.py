"""The registry: unique names, metadata, queries, removal on death."""

from __future__ import annotations

from typing import Any

import pytest

import bastion
from tests.core.conftest import Echo


async def test_names_are_unique_among_live_actors() -> None:
    async with bastion.open_runtime() as rt:
        first = await rt.spawn(Echo, name="one")
        with pytest.raises(bastion.NameTaken, match="one"):
            await rt.spawn(Echo, name="one")
        assert await first.call("still") == "still"
        await first.stop()
        await rt.spawn(Echo, name="one")  # free again once the holder stopped


@pytest.mark.parametrize("bad", ["", " padded ", 42, b"bytes"])
async def test_invalid_names_are_rejected(bad: Any) -> None:
    async with bastion.open_runtime() as rt:
        with pytest.raises((TypeError, ValueError)):
            await rt.spawn(Echo, name=bad)
        assert rt.statistics().actors == 0


async def test_lookup_whereis_and_name_refs() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="echo")
        assert rt.registry.lookup("echo") == ref
        assert rt.whereis("echo") == ref
        assert "echo" in rt.registry
        assert await rt.ref("echo").call(1) == 1
        assert rt.whereis("missing") is None


async def test_calls_to_unknown_names_raise_no_such_actor() -> None:
    async with bastion.open_runtime() as rt:
        ghost = rt.ref("ghost")
        with pytest.raises(bastion.NoSuchActor, match="ghost"):
            await ghost.call("x")
        with pytest.raises(bastion.NoSuchActor):
            await ghost.cast("x")
        with pytest.raises(bastion.NoSuchActor):
            ghost.cast_nowait("x")
        assert isinstance(bastion.NoSuchActor(), bastion.ActorNotAlive)
        assert not ghost.is_alive


async def test_metadata_queries_by_attribute_and_capability() -> None:
    async with bastion.open_runtime() as rt:
        await rt.spawn(Echo, name="p1", metadata={"capabilities": ["parse"], "health": "ok"})
        await rt.spawn(Echo, name="p2", metadata={"capabilities": ["parse", "index"]})
        await rt.spawn(Echo, name="i1", metadata={"capabilities": ("index",), "zone": "eu"})
        parse = sorted(e.name for e in rt.registry.select(capabilities="parse"))
        assert parse == ["p1", "p2"]
        assert [e.name for e in rt.registry.select(zone="eu")] == ["i1"]
        assert rt.registry.select(capabilities="fly") == []
        rt.registry.update_metadata("p2", health="degraded")
        assert rt.registry.metadata("p2")["health"] == "degraded"
        assert [e.name for e in rt.registry.select(health="degraded")] == ["p2"]
        with pytest.raises(bastion.NoSuchActor):
            rt.registry.update_metadata("nobody", health="x")


async def test_names_are_removed_automatically_when_the_actor_dies() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo, name="mortal", metadata={"role": "x"})
        with pytest.raises(bastion.ActorCrashed):
            await ref.call("crash")
        await ref.wait_stopped(timeout=1.0)
        assert rt.whereis("mortal") is None
        assert rt.registry.select(role="x") == []
        assert rt.statistics().registered_names == 0


async def test_name_refs_to_the_same_name_are_equal() -> None:
    async with bastion.open_runtime() as rt:
        sup = await rt.start_supervisor([bastion.ChildSpec("a", Echo, name="a")])
        assert rt.ref("a") == rt.ref("a")
        assert hash(rt.ref("a")) == hash(rt.ref("a"))
        assert rt.ref("a") != rt.ref("b")
        assert sup.child("a") == sup.child("a")
        assert sup.child("a") != rt.ref("a")  # same label, looked up elsewhere
        assert rt.ref("a") != rt.whereis("a")  # a name ref is not an incarnation ref
