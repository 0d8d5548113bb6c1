"""``bastion loadtest --demo``: load the demo pipeline (``bastion.demo``) and, with
``--chaos``, break it while it runs.

Setup starts the demo's supervision tree (``"demo"``: TaskAgent workers, the
coordinator, the monitor) on a fresh SQLite file wrapped in a :class:`ChaosStore`.
Scenario ``submit`` (weight 4) starts a document workflow (fetch → parse → enrich →
index) and records it once the coordinator accepted it; ``status`` (weight 1) reads the
coordinator's statistics. Chaos kills random children of ``"demo"`` twice a second,
slows 5 % of writes by 20 ms and fails 1 %; afterwards every accepted workflow must be
known to the coordinator (finished, or still running): ``lost`` must be 0.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion._core._intensity import RestartIntensity
from bastion._core._runtime import Runtime
from bastion._core._supervisor_handle import SupervisorHandle
from bastion.agents import (
    CoordinatorStatistics,
    SignalBus,
    UnknownWorkflow,
    WorkflowStatus,
    act,
)
from bastion.demo._pipeline import DemoConfig, _tree, _workflow
from bastion.flags import DEMO_STEP_IMPL, Flags
from bastion.loadtest._chaos import Chaos, ChaosStore
from bastion.loadtest._scenario import LoadTest, Scenario, User
from bastion.persistence import SQLiteStore

__all__ = ["demo_load_test"]

DRAIN_TIMEOUT = 120.0


@dataclass
class DemoSystem:
    """What the demo load test's setup started."""

    store: ChaosStore
    flags: Flags
    bus: SignalBus
    supervisor: SupervisorHandle
    accepted: list[str] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=itertools.count)


async def _setup(db: Path, workers: int, rt: Runtime) -> DemoSystem:
    config = DemoConfig(tasks=100_000, workers=workers, chaos=0.0, db=db, io_seconds=0.002)
    sqlite = await SQLiteStore.open(db)
    store = ChaosStore(sqlite, name="sqlite")
    flags = await Flags.open(sqlite, namespace="flags")  # the flag store is not chaos's target
    await flags.ensure(DEMO_STEP_IMPL, actor="bastion loadtest", reason="the demo's step flag")
    bus = await SignalBus().start(rt, name="signals")
    try:
        supervisor = await rt.start_supervisor(
            _tree(config, store, bus, flags),  # type: ignore[arg-type]  # a ChaosStore is a store
            intensity=RestartIntensity(1000, max_seconds=10.0),
            name="demo",
        )
    except BaseException:
        await bus.stop()
        await flags.aclose()
        await store.close()
        raise
    return DemoSystem(store, flags, bus, supervisor)


async def _teardown(rt: Runtime, system: DemoSystem) -> None:
    try:
        await system.supervisor.stop(timeout=30.0)
    finally:
        await system.bus.stop()
        await system.flags.aclose()
        await system.store.close()


async def submit(user: User) -> None:
    """Start one document workflow; once accepted, it must never be lost."""
    system: DemoSystem = user.context
    n = next(system.numbers)
    workflow_id = f"lt-{n:07d}"
    await act(
        user.runtime.ref("coordinator"),
        "start_workflow",
        returns=WorkflowStatus,
        call_timeout=5.0,
        workflow_id=workflow_id,
        steps=_workflow(n),
    )
    system.accepted.append(workflow_id)


async def status(user: User) -> None:
    """Read the coordinator's statistics."""
    await act(
        user.runtime.ref("coordinator"),
        "statistics",
        returns=CoordinatorStatistics,
        call_timeout=5.0,
    )


async def verify_workflows(rt: Runtime, system: DemoSystem) -> dict[str, Any]:
    """Let the pipeline finish (bounded), then look every accepted workflow up."""
    coordinator = rt.ref("coordinator")
    deadline = rt.loop.time() + DRAIN_TIMEOUT
    while rt.loop.time() < deadline:
        stats = await act(coordinator, "statistics", returns=CoordinatorStatistics)
        if stats.running + stats.pending + stats.paused == 0:
            break
        await asyncio.sleep(0.1)  # the coordinator's finish signals are the demo's business
    counts: dict[str, int] = {}
    lost: list[str] = []
    for workflow_id in system.accepted:
        try:
            state = await act(
                coordinator, "workflow_status", returns=WorkflowStatus, workflow_id=workflow_id
            )
        except UnknownWorkflow:
            lost.append(workflow_id)
            continue
        counts[str(state.status)] = counts.get(str(state.status), 0) + 1
    return {
        "accepted": len(system.accepted),
        **dict(sorted(counts.items())),
        "lost": len(lost),
        "lost_ids": lost[:20],
    }


def demo_load_test(db: Path, *, workers: int = 4) -> LoadTest:
    """The demo pipeline as a load test (see the module docstring)."""

    async def setup(rt: Runtime) -> DemoSystem:
        return await _setup(db, workers, rt)

    return LoadTest(
        [Scenario("submit", submit, 4), Scenario("status", status, 1)],
        setup=setup,
        teardown=_teardown,
        chaos=Chaos(
            supervisor="demo",
            kill_rate=2.0,
            stores=lambda system: [system.store],
            slow_writes=0.05,
            write_delay=0.02,
            failing_writes=0.01,
            verify=verify_workflows,
        ),
    )
