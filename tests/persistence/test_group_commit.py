"""Group commit with the writer process: acknowledgements amortised across waiting writers."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from bastion.persistence import PutItem, SQLiteStore


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
