"""CoordinatorAgent offers (issue 15): a TaskAgent takes a step as a mailbox message (no
``queue`` call, no commit to wait for), a step new on the coordinator's store is queued
without reading its outcome while a re-offer after a restart is not new, and a refused
offer leaves the step pending until an agent has room."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import bastion
from bastion.agents import CoordinatorAgent, Task, TaskAgent, act
from bastion.agents._offers import TAKES_OFFERS, QueueOffer
from bastion.persistence import MemoryStore
from bastion.testing import capture_events, crash, wait_for
from tests.agents.conftest import open_store
from tests.agents.test_coordinator import SlowToAccept

QUEUE_ACTION = ("bastion", "agent", "action", "start")
REFUSED = ("bastion", "agent", "workflow", "dispatch_refused")
STEPS = [{"name": s, "task_type": s} for s in ("a", "b", "c")]


def _plain(task: Task) -> str:
    return task.id


async def _done(coord: bastion.ActorRef, wf: str) -> Any:
    async def check() -> Any:
        s = await act(coord, "workflow_status", workflow_id=wf)
        return s if s.status == "completed" else None

    return await wait_for(check, timeout=10.0)


class Recording(TaskAgent):
    """A TaskAgent that notes, per offered task id, whether it came as new."""

    offers: list[tuple[str | None, bool]]

    async def _handle_internal(self, message: Any) -> bool:
        if isinstance(message, QueueOffer):
            Recording.offers.append((message.spec.id, message.new_on is self.store))
        return await super()._handle_internal(message)


class CountingStore(MemoryStore):
    """Counts reads of recorded task outcomes."""

    def __init__(self) -> None:
        super().__init__()
        self.outcome_reads = 0

    async def read_item(self, namespace: str, collection: str, item: str) -> bytes | None:
        if collection == "done":
            self.outcome_reads += 1
        return await super().read_item(namespace, collection, item)


async def test_a_task_agent_takes_steps_as_messages_without_its_queue_action(
    db_path: Path,
) -> None:
    handlers = {s: _plain for s in ("a", "b", "c")}
    async with open_store("sqlite", db_path) as store, bastion.open_runtime() as rt:
        await rt.spawn(TaskAgent, name="w1", store=store, handlers=handlers)
        SlowToAccept.accept = asyncio.Event()
        await rt.spawn(SlowToAccept, name="own-queue", store=store, handlers={"z": _plain})
        assert rt.registry.metadata("w1").get(TAKES_OFFERS) is True
        assert not rt.registry.metadata("own-queue").get(TAKES_OFFERS)  # its own `queue`
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        with capture_events(QUEUE_ACTION) as captured:
            await act(coord, "start_workflow", workflow_id="wf", steps=STEPS)
            done = await _done(coord, "wf")
        assert done.results == {"a": "wf/a/1", "b": "wf/b/1", "c": "wf/c/1"}
        actions = [e.metadata.get("action") for e in captured.events]
        assert "queue" not in actions  # offered as messages, not through the action
        await coord.stop()


async def test_a_new_step_is_offered_as_new_and_queued_without_reading_its_outcome() -> None:
    store = CountingStore()
    gate = asyncio.Event()

    async def held(task: Task) -> str:
        await gate.wait()
        return task.id

    handlers = {"a": _plain, "b": held, "c": _plain}
    Recording.offers = []
    async with bastion.open_runtime() as rt:
        await rt.spawn(Recording, name="w1", store=store, handlers=handlers)
        sup = await rt.start_supervisor(
            [
                bastion.ChildSpec(
                    id="c", actor=CoordinatorAgent, name="coord", kwargs={"store": store}
                )
            ]
        )
        coord = rt.ref("coord")
        await act(coord, "start_workflow", workflow_id="wf", steps=STEPS)

        async def b_running() -> bool:
            return bool((await act(rt.ref("w1"), "status")).current_task == "wf/b/1")

        await wait_for(b_running, timeout=5.0)
        assert store.outcome_reads == 0  # "a" and "b" were new: no outcome read
        first = rt.whereis("coord")
        assert first is not None
        await crash(first)
        await wait_for(lambda: rt.whereis("coord") not in (None, first), timeout=5.0)
        await wait_for(lambda: len(Recording.offers) == 3, timeout=5.0)  # "b" re-offered
        gate.set()
        done = await _done(coord, "wf")
        assert done.results["c"] == "wf/c/1"
        assert Recording.offers == [
            ("wf/a/1", True),
            ("wf/b/1", True),
            ("wf/b/1", False),  # a re-offer after the restart: its outcome may exist
            ("wf/c/1", False),  # created before the restart: not known to be new
        ]
        assert store.outcome_reads == 1  # "c" (not new) read; "b" was found in the queue
        await sup.stop()


async def test_a_refused_offer_leaves_the_step_pending_until_an_agent_has_room() -> None:
    gate = asyncio.Event()
    ran: list[str] = []

    async def held(task: Task) -> str:
        ran.append(task.id)
        await gate.wait()
        return task.id

    one = [{"name": "a", "task_type": "a"}]
    async with bastion.open_runtime() as rt:
        store = MemoryStore()
        await rt.spawn(TaskAgent, name="w1", store=store, handlers={"a": held}, max_queue_size=1)
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store, check_interval=0.5)
        with capture_events(REFUSED) as captured:
            await act(coord, "start_workflow", workflow_id="first", steps=one)
            await wait_for(lambda: ran == ["first/a/1"], timeout=5.0)
            await act(coord, "start_workflow", workflow_id="second", steps=one)
            await wait_for(lambda: captured.count(*REFUSED) >= 1, timeout=5.0)
        waiting = await act(coord, "workflow_status", workflow_id="second")
        assert waiting.steps == {"a": "pending"}  # refused (queue full): not dispatched
        gate.set()
        await _done(coord, "first")
        await _done(coord, "second")  # offered again by the periodic check
        assert ran == ["first/a/1", "second/a/1"]
        await coord.stop()
