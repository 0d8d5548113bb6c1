"""TaskAgent batches (issue 15): plain-function tasks run several per message, their
progress saved in one write per batch (MemoryStore and SQLite alike) and announced after
that save; crashes, stops and messages cut a batch short without losing or repeating a
recorded outcome."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

import bastion
from bastion.agents import Task, TaskAgent, TaskFinished, TaskOutcome, TaskStatus, act
from bastion.persistence import MemoryStore, StateStore, default_codec
from bastion.testing import wait_for
from tests.agents.conftest import open_store


class Requester(bastion.Actor):
    """Collects TaskFinished notices; checks each outcome is in the store when it arrives."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.notices: list[str] = []
        self.unsaved: list[str] = []

    async def handle_cast(self, message: Any) -> None:
        if isinstance(message, TaskFinished):
            task_id = message.outcome.id
            self.notices.append(task_id)
            if await self.store.read_item("agent/w", "done", task_id) is None:
                self.unsaved.append(task_id)


async def _wait_drained(ref: bastion.ActorRef, total: int) -> None:
    async def drained() -> bool:
        status = await act(ref, "status")
        return bool(status.processed + status.failed == total and status.current_task is None)

    await wait_for(drained, timeout=10.0)


@contextlib.asynccontextmanager
async def _store(kind: str, db_path: Path) -> AsyncIterator[StateStore]:
    if kind == "memory":
        yield MemoryStore()
        return
    async with open_store(kind, db_path) as store:
        yield store


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_run_of_plain_tasks_is_saved_in_a_few_writes(kind: str, db_path: Path) -> None:
    async with _store(kind, db_path) as store, bastion.open_runtime() as rt:
        requester = await rt.spawn(Requester, store, name="requester")
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"p": lambda t: t.id})
        await act(ref, "pause")
        tasks = [{"type": "p", "id": f"t{i}", "reply_to": "requester"} for i in range(100)]
        await act(ref, "queue_many", tasks=tasks)
        before = store.statistics().batches
        await act(ref, "resume")
        await _wait_drained(ref, 100)
        writes = store.statistics().batches - before
        assert writes <= 5  # resume, one batch, status calls: not one write per task
        state = bastion.testing.actor_state(requester)
        assert isinstance(state, Requester)
        await wait_for(lambda: len(state.notices) == 100, timeout=5.0)
        assert sorted(state.notices) == sorted(f"t{i}" for i in range(100))
        assert state.unsaved == []  # every notice came after the save of its outcome


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_a_kill_between_two_tasks_of_a_batch_loses_and_repeats_no_outcome(
    kind: str, db_path: Path
) -> None:
    runs: list[str] = []
    async with _store(kind, db_path) as store, bastion.open_runtime() as rt:
        requester = await rt.spawn(Requester, store, name="requester")

        def plain(task: Task) -> str:
            runs.append(task.id)
            if task.id == "t5" and task.attempt == 1:
                current = rt.whereis("w")
                assert current is not None
                current.kill("injected")  # lands at the agent's next yield: mid-batch
            return task.id

        spec = bastion.ChildSpec(
            id="w", actor=TaskAgent, name="w", kwargs={"store": store, "handlers": {"p": plain}}
        )
        sup = await rt.start_supervisor([spec], intensity=bastion.RestartIntensity(5, 5.0))
        ref = rt.ref("w")
        await act(ref, "pause")
        tasks = [{"type": "p", "id": f"t{i}", "reply_to": "requester"} for i in range(20)]
        await act(ref, "queue_many", tasks=tasks)
        await act(ref, "resume")
        await _wait_drained(ref, 20)
        state = bastion.testing.actor_state(requester)
        assert isinstance(state, Requester)
        await wait_for(lambda: len(state.notices) >= 20, timeout=5.0)
        assert sorted(state.notices) == sorted(f"t{i}" for i in range(20))  # once each
        assert state.unsaved == []
        assert sorted(runs) == sorted(f"t{i}" for i in range(20))  # t0..t5 were saved
        status = await act(ref, "status")
        assert status.processed == 20
        await sup.stop()


async def test_a_stop_ends_a_batch_after_the_task_running() -> None:
    ran: list[str] = []
    store = MemoryStore()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(
            TaskAgent, name="w", store=store, handlers={"p": lambda t: ran.append(t.id)}
        )
        await act(ref, "pause")
        await act(ref, "queue_many", tasks=[{"type": "p"} for _ in range(100)])
        await act(ref, "resume")
        await ref.stop()
        assert len(ran) <= 2  # not the rest of a batch of up to 128
        stopped_after = len(ran)
        again = await rt.spawn(
            TaskAgent, name="w", store=store, handlers={"p": lambda t: ran.append(t.id)}
        )
        await act(again, "pause")  # (it may have started one more task meanwhile)
        status = await act(again, "status")
        assert stopped_after <= status.processed == len(ran)  # what ran was saved
        assert status.queued == 100 - len(ran)


def test_an_outcome_is_stored_without_its_defaults_and_old_rows_still_decode() -> None:
    codec = default_codec()
    outcome = TaskOutcome(
        id="t", type="p", status=TaskStatus.COMPLETED, result=None, finished_at=1.0
    )
    data = codec.encode(outcome, TaskOutcome)
    assert b"null" not in data  # nothing for the NaN check to look at
    assert codec.decode(data, TaskOutcome) == outcome
    old = msgspec.json.encode(
        {"id": "t", "type": "p", "status": "completed", "result": None, "error": None,
         "attempts": 1, "duration": 0.0, "finished_at": 1.0, "agent": None, "retryable": True}
    )  # fmt: skip
    assert codec.decode(old, TaskOutcome) == outcome


async def test_plain_tasks_still_yield_the_loop_between_two_tasks() -> None:
    ran: list[str] = []
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while len(ran) < 50:
            ticks += 1
            await asyncio.sleep(0)

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(
            TaskAgent, name="w", store=MemoryStore(), handlers={"p": lambda t: ran.append(t.id)}
        )
        await act(ref, "pause")
        await act(ref, "queue_many", tasks=[{"type": "p"} for _ in range(50)])
        await act(ref, "resume")
        await ticker()
    assert ticks >= 49  # the other coroutine ran between every two tasks


async def test_a_result_that_cannot_be_stored_fails_the_task_and_the_agent_goes_on() -> None:
    def nan(task: Task) -> float:
        return float("nan")  # JSON has no NaN: refused at encode (UnstorableValue)

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(
            TaskAgent, name="w", store=MemoryStore(), handlers={"nan": nan, "p": lambda t: 1}
        )
        await act(ref, "queue", type="nan", id="bad")
        await act(ref, "queue", type="p", id="good")
        await _wait_drained(ref, 2)
        bad = await act(ref, "result", task_id="bad")
        assert (bad.status, bad.retryable) == ("failed", False)
        assert bad.error.startswith("result not storable")
        assert (await act(ref, "result", task_id="good")).status == "completed"
        assert (await act(ref, "status")).recovered_in_flight == 0  # no crash on the way
