"""Waits that are not calls time out with ``bastion.Timeout``, not ``CallTimeout``.

``CallTimeout`` is an infrastructure error (retryable: a retry policy retries it); a
``wait_idle`` or ``wait_stopped`` that expires is a deadline of the caller's own wait,
so it is a plain :class:`bastion.Timeout` (still a builtin ``TimeoutError``).
"""

from __future__ import annotations

import asyncio

import pytest

import bastion
from tests.core.conftest import Gate


async def test_wait_idle_expiring_is_a_timeout_and_not_a_call_timeout() -> None:
    gate = asyncio.Event()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Gate, gate)
        pending = asyncio.ensure_future(ref.call("block"))
        with pytest.raises(bastion.Timeout, match="busy actors") as info:
            await rt.wait_idle(timeout=0.5)
        assert not isinstance(info.value, bastion.CallTimeout)
        assert isinstance(info.value, TimeoutError)
        assert not info.value.retryable
        gate.set()
        assert await pending == "block"


async def test_wait_stopped_expiring_is_a_timeout_and_not_a_call_timeout() -> None:
    gate = asyncio.Event()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Gate, gate)
        pending = asyncio.ensure_future(ref.call("block"))
        with pytest.raises(bastion.Timeout, match="to stop") as info:
            await ref.wait_stopped(timeout=0.5)
        assert not isinstance(info.value, bastion.CallTimeout)
        gate.set()
        assert await pending == "block"
