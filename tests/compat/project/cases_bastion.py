"""Tests that opt into Bastion: by fixture, by marker, with async fixtures."""

from __future__ import annotations

import asyncio

import pytest

import bastion
from bastion.testing import VirtualTimeLoop
from conftest import report


class Echo(bastion.Actor):
    def handle_call(self, message: object) -> object:
        return message


async def test_by_fixture(rt: bastion.Runtime) -> None:
    report("by_fixture")
    assert isinstance(rt, bastion.Runtime)
    ref = await rt.spawn(Echo)
    assert await ref.call("hi", timeout=1.0) == "hi"
    await ref.stop()


@pytest.mark.bastion
async def test_by_marker() -> None:
    report("by_marker")
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)  # else the hour below would be a real one
    start = loop.time()
    await asyncio.sleep(3600)  # noqa: BAS601 -- the subject: an hour of virtual time
    assert loop.time() - start == 3600


async def test_async_fixtures_run_on_the_test_loop(
    clock: object, opened: dict[str, float], answer: int
) -> None:
    report("async_fixtures")
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    assert opened["loop"] == id(loop)  # made on this very loop
    assert opened["opened_at"] == 10.0  # its ten seconds were virtual
    assert answer == 42
