"""``mailbox_drained``: the documented probe on ``ref.statistics()`` behind ``drain_mailbox``."""

from __future__ import annotations

import asyncio

import pytest

import bastion
from bastion.testing import drain_mailbox, mailbox_drained, wait_for


class Slow(bastion.Actor):
    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    async def handle_cast(self, message: object) -> None:
        await self.gate.wait()


async def test_the_probe_says_what_the_actor_is_doing(rt: bastion.Runtime) -> None:
    gate = asyncio.Event()
    ref = await rt.spawn(Slow, gate, name="slow")
    assert mailbox_drained(ref.statistics())
    ref.cast_nowait(1)
    ref.cast_nowait(2)
    await wait_for(lambda: ref.statistics().mailbox_depth == 1, timeout=1.0)
    with pytest.raises(
        AssertionError, match=r"Slow\(slow\): 1 message\(s\) queued, still handling"
    ):
        mailbox_drained(ref.statistics())
    gate.set()
    assert await drain_mailbox(ref, timeout=1.0) == 1  # the queued one; the first had begun
    assert mailbox_drained(ref.statistics())
    await ref.stop()
    with pytest.raises(bastion.ActorNotAlive, match="stopped"):
        mailbox_drained(ref.statistics())
