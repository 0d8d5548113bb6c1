"""Framework members of agents cannot be shadowed by a user's subclass or instance."""

from __future__ import annotations

import pytest

import bastion
from bastion.agents import Agent, TaskAgent
from bastion.persistence import MemoryStore


def test_assigning_the_agents_clock_or_signals_in_init_is_refused_at_that_line() -> None:
    class Clocked(Agent):
        def __init__(self) -> None:
            super().__init__()
            self.clock = "mine"

    with pytest.raises(TypeError, match=r"'clock' is reserved by bastion's Agent"):
        Clocked()


def test_a_plain_agent_may_declare_state_named_like_a_task_agent_field() -> None:
    class Plain(Agent):
        status: str = "idle"

    assert Plain().status == "idle"


def test_a_task_agent_subclass_declaring_status_is_refused_at_class_definition() -> None:
    with pytest.raises(TypeError, match="defines status: reserved by bastion"):

        class Worker(TaskAgent):
            status: str = "ready"


async def test_a_task_agent_subclass_assigning_queue_in_init_fails_the_spawn() -> None:
    class Worker(TaskAgent):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            self.queue = []  # type: ignore[assignment]

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(Worker, name="w", store=MemoryStore())
        assert "'queue' is reserved by bastion's TaskAgent" in str(info.value.__cause__)


async def test_an_agent_shadowing_publish_on_the_instance_fails_the_spawn() -> None:
    class Loud(Agent):
        def __init__(self) -> None:
            super().__init__()
            self.publish = print  # type: ignore[method-assign,assignment]

    async with bastion.open_runtime() as rt:
        with pytest.raises(bastion.StartFailed) as info:
            await rt.spawn(Loud)
        assert "'publish' is reserved by bastion's Agent" in str(info.value.__cause__)
