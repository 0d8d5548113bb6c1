"""Group commit with the writer process: acknowledgements amortised across waiting writers."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

import bastion
from bastion import ActorCrashed
from bastion.agents import Task, TaskAgent, act
from bastion.persistence import PutItem, SQLiteStore
from bastion.testing import wait_for


async def test_a_commit_in_flight_collects_the_next_group(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "s.db", writer="process") as store:
        pid = store.writer_pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # the first group stays in flight
        try:
            first = await store.submit([PutItem("a", "q", "first", b"1")])
            await asyncio.sleep(0)  # sent
            waiting = []
            for i in range(10):  # ten writers, each waiting for its own acknowledgement
                waiting.append(await store.submit([PutItem("a", "q", f"{i:02d}", b"x")]))
                await asyncio.sleep(0)
        finally:
            os.kill(pid, signal.SIGCONT)
        await asyncio.wait_for(asyncio.gather(first, *waiting), timeout=30.0)
        assert store.statistics().commits == 2  # the first group, then the ten together
        assert store.statistics().max_group == 10
        assert len((await store.load("a")).collections["q"]) == 11


def _echo(task: Task) -> int:
    return int(task.payload)


async def test_an_agent_goes_on_while_its_replies_wait_for_their_commit(tmp_path: Path) -> None:
    async with (
        await SQLiteStore.open(tmp_path / "s.db", writer="process") as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"echo": _echo})
        await act(ref, "pause")
        pid = store.writer_pid
        assert pid is not None
        before = ref.statistics().processed
        answered: list[int] = []

        async def client(n: int) -> None:
            await act(ref, "queue", type="echo", payload=n)  # no id: no read of outcomes
            answered.append(n)

        async def writer_paused_meanwhile() -> None:
            os.kill(pid, signal.SIGSTOP)
            try:  # all five handled though no commit can complete
                await wait_for(lambda: ref.statistics().processed >= before + 5, timeout=10.0)
                assert answered == []  # no reply before its commit
            finally:
                os.kill(pid, signal.SIGCONT)

        await asyncio.gather(writer_paused_meanwhile(), *(client(n) for n in range(5)))
        assert sorted(answered) == [0, 1, 2, 3, 4]
        assert len((await store.load("agent/w")).collections["queue"]) == 5
        await ref.stop()


async def test_a_failed_deferred_write_fails_the_reply_and_crashes_the_agent(
    tmp_path: Path,
) -> None:
    async with (
        await SQLiteStore.open(tmp_path / "s.db", writer="process") as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"echo": _echo})
        await act(ref, "pause")
        pid = store.writer_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(ActorCrashed, match="writer process is gone"):
            await act(ref, "queue", type="echo", payload=1)
        await wait_for(lambda: not ref.is_alive, timeout=10.0)
