"""The console shows how long each TaskAgent's oldest queued task has waited."""

from __future__ import annotations

import bastion
from bastion.agents import TaskAgent, act
from bastion.console import console_app, openapi_document
from bastion.persistence import MemoryStore
from tests.console._nodes import client


async def test_task_agent_queues_show_the_oldest_waiting_task(rt: bastion.Runtime) -> None:
    agent = await rt.spawn(TaskAgent, name="jobs", store=MemoryStore(),
                           handlers={"t": lambda task: 1})  # fmt: skip
    await act(agent, "pause")
    async with client(console_app(rt)) as http:
        empty = (await http.get("/api/task-agents")).json()["items"][0]
        await act(agent, "queue", type="t", priority="low")
        await act(agent, "queue", type="t", priority="high")
        waiting = (await http.get("/api/task-agents")).json()["items"][0]
    assert (empty["oldest_queued_at"], empty["oldest_waiting_seconds"]) == (None, None)
    assert waiting["queued_by_priority"] == {"high": 1, "normal": 0, "low": 1}
    assert waiting["oldest_queued_at"] is not None
    assert waiting["oldest_waiting_seconds"] >= 0
    schema = openapi_document()["components"]["schemas"]["TaskAgent"]
    assert {"oldest_queued_at", "oldest_waiting_seconds"} <= set(schema["properties"])
    await agent.stop()
