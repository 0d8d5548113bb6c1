"""Evaluation → cohort → metrics: calls made for a unit of work count for its variant."""

from __future__ import annotations

import asyncio

import bastion
from bastion.flags import Flag, Flags
from bastion.persistence import MemoryStore


class Echo(bastion.Actor):
    def handle_call(self, msg: object) -> object:
        return msg


async def test_calls_made_after_an_evaluation_are_counted_for_its_variant() -> None:
    flags = await Flags.open(MemoryStore())
    await flags.define(Flag.boolean("new-ranker", percentage=50), actor="a", reason="r")
    async with bastion.open_runtime() as rt:
        echo = await rt.spawn(Echo)

        async def request(user: str) -> str:
            ev = flags.evaluate("new-ranker", user)  # sets this task's cohort
            await echo.call(user, timeout=1.0)
            return ev.variant

        users = [f"user-{i}" for i in range(40)]
        variants = await asyncio.gather(*(request(u) for u in users))
        calls = rt.metrics.family("bastion_calls")
        on = calls.total(cohort="new-ranker=on", outcome="ok")
        off = calls.total(cohort="new-ranker=off", outcome="ok")
        assert (on, off) == (variants.count("on"), variants.count("off"))
        assert on > 0
        assert off > 0
        await echo.stop()
