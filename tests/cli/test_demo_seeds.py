"""``bastion demo`` on many seeds: the main job never crashes and loses nothing.

Issue 18 item 2: the demo exited 1 now and then (``ActorNotAlive: CoordinatorAgent
stopped before handling the message``) because a chaos kill that landed while the
supervisor restarted a worker took the whole ``demo`` supervisor down. Besides the
demo's own chaos, each run here gets a few "double taps": a worker is killed, and its
next incarnation is killed again while it starts (restoring its state from SQLite) —
the window that crashed the demo. The demos run side by side in one virtual-time loop,
each in its own runtime on its own database, so many seeds cost about one demo's time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bastion
from bastion.demo import DemoConfig, DemoSummary, run_demo
from bastion.testing import run, wait_for

SEEDS = range(8)
TASKS = 8
DOUBLE_TAPS = 3


class DoubleTap(Exception):
    """The reason of the test's own kills."""


@pytest.fixture(autouse=True)
def _quiet_injected_crashes() -> Iterator[None]:
    logger = logging.getLogger("bastion")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # the kills are the point; don't log each one
    yield
    logger.setLevel(level)


async def _next_incarnation(runtime: bastion.Runtime, name: str, old: bastion.ActorRef) -> Any:
    for _ in range(10_000):  # the supervisor restarts it within a few loop iterations
        await asyncio.sleep(0)
        new = runtime.whereis(name)
        if new is not None and new != old:
            return new
    return None


async def _double_tap(runtime: bastion.Runtime, config: DemoConfig) -> None:
    for tap in range(DOUBLE_TAPS):
        name = f"worker-{tap % config.workers}"
        first = await wait_for(lambda n=name: runtime.whereis(n), timeout=30.0)
        await runtime.clock.sleep(0.05)
        first.kill(DoubleTap("first"))
        starting = await _next_incarnation(runtime, name, first)
        if starting is None:
            return  # the demo finished and its tree is gone
        await asyncio.sleep(0)  # its task enters on_start and waits for the store
        starting.kill(DoubleTap("while starting"))


async def _one_demo(config: DemoConfig) -> DemoSummary:
    async with bastion.open_runtime() as runtime, asyncio.TaskGroup() as group:
        taps = group.create_task(_double_tap(runtime, config))
        summary = await run_demo(runtime, config)
        taps.cancel()
        return summary


async def _all_demos(configs: list[DemoConfig]) -> list[DemoSummary | BaseException]:
    return await asyncio.gather(*(_one_demo(c) for c in configs), return_exceptions=True)


def test_the_demo_never_crashes_and_loses_nothing_on_many_seeds(tmp_path: Path) -> None:
    configs = [
        DemoConfig(
            tasks=TASKS,
            workers=1 + seed % 3,
            chaos=(0.05, 0.1, 0.2)[seed % 3],
            seed=seed,
            db=tmp_path / f"seed-{seed}.db",
            io_seconds=0.01,
            timeout=120.0,
        )
        for seed in SEEDS
    ]
    results = run(_all_demos, configs)
    crashed = {
        c.seed: repr(r)
        for c, r in zip(configs, results, strict=True)
        if isinstance(r, BaseException)
    }
    assert crashed == {}
    summaries = [r for r in results if isinstance(r, DemoSummary)]
    assert [s.lost for s in summaries] == [0] * len(configs)
    assert [s.unfinished for s in summaries] == [0] * len(configs)
    assert all(s.completed + s.failed == s.accepted == TASKS for s in summaries)
