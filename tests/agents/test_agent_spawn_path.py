"""What an agent's spawn still does, and what it no longer pays for (issue 15, target 6).

An agent's ``on_start`` awaits ``_prepare_state`` and ``setup`` only when its class
defines them, builds the ``agent.started`` metadata only when a handler listens, and
``__new__`` shares immutable defaults instead of asking each field for a fresh copy.
The Python functions a spawn runs are recorded with ``sys.setprofile``; the behaviour
each skip must keep (hooks run, fresh mutable defaults, the event, the clock) is
asserted next to it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

import bastion
from bastion import telemetry
from bastion.agents import Agent
from bastion.testing import actor_state


class Plain(Agent):
    """An agent with only immutable declared state and none of the hooks."""

    count: int = 0
    label: str = "x"


class Prepared(Agent):
    """An agent with a setup of its own and a mutable default."""

    seen: list[str] = []  # noqa: RUF012 -- declared state: a fresh copy per instance

    async def setup(self) -> None:
        self.seen.append("setup")


@contextmanager
def _python_calls() -> Iterator[list[str]]:
    """Names of the Python functions called while the block runs."""
    names: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            names.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        yield names
    finally:
        sys.setprofile(None)


async def test_an_agent_without_hooks_starts_without_awaiting_them() -> None:
    async with bastion.open_runtime() as rt:
        with _python_calls() as calls:
            ref = await rt.spawn(Plain)
        agent = actor_state(ref)
        assert isinstance(agent, Plain)
        assert (agent.count, agent.label) == (0, "x")
        assert agent.clock is rt.clock
    assert "on_start" in calls
    assert "setup" not in calls
    assert "_prepare_state" not in calls
    assert "fresh_default" not in calls  # immutable defaults are shared as they are
    assert "_meta" not in calls  # nobody listens to agent.started
    assert "check_instance" not in calls  # Agent's __init__ sets no reserved member


async def test_an_agent_setup_runs_and_mutable_defaults_stay_fresh() -> None:
    async with bastion.open_runtime() as rt:
        first = actor_state(await rt.spawn(Prepared))
        second = actor_state(await rt.spawn(Prepared))
        assert isinstance(first, Prepared)
        assert isinstance(second, Prepared)
    assert first.seen == ["setup"]
    assert second.seen == ["setup"]
    assert first.seen is not second.seen
    assert Prepared.seen == []


async def test_agent_started_is_emitted_with_its_metadata_when_listened() -> None:
    seen: list[tuple[Any, ...]] = []
    telemetry.attach(
        "spawn-path-test",
        [("bastion", "agent", "started")],
        lambda event, measurements, metadata: seen.append((measurements, dict(metadata))),
    )
    try:
        async with bastion.open_runtime() as rt:
            await rt.spawn(Plain, name="plain")
    finally:
        telemetry.detach("spawn-path-test")
    assert seen == [({"count": 1}, {"agent": "plain", "agent_type": "Plain"})]


def test_the_clock_is_unbound_until_the_agent_starts() -> None:
    agent = Plain.__new__(Plain)
    with pytest.raises(RuntimeError, match="bound in on_start"):
        agent.clock.now()
