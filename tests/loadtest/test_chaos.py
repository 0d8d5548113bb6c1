"""Chaos mode against a TaskAgent pool: kills, slow and failing writes, dropped casts;
nothing the agents accepted is lost (virtual time)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import bastion
from bastion import loadtest as lt
from bastion.agents import Task, TaskAgent, act
from bastion.persistence import MemoryStore

WORKERS = [f"worker-{i}" for i in range(3)]


async def work(task: Task) -> int:
    await asyncio.sleep(0.005)  # noqa: BAS601 -- simulated work, virtual time
    return int(task.payload) * 2


@dataclass
class Pool:
    store: lt.ChaosStore
    supervisor: bastion.SupervisorHandle
    ledger: lt.TaskLedger = field(default_factory=lt.TaskLedger)
    ids: itertools.count[int] = field(default_factory=itertools.count)


async def setup(rt: bastion.Runtime) -> Pool:
    store = lt.ChaosStore(MemoryStore(), name="memory")
    specs = [
        bastion.ChildSpec(name, TaskAgent, kwargs={"store": store, "handlers": {"double": work}},
                          name=name)
        for name in WORKERS
    ]  # fmt: skip
    supervisor = await rt.start_supervisor(
        specs, intensity=bastion.RestartIntensity(10_000, max_seconds=1.0), name="pool"
    )
    return Pool(store, supervisor)


async def teardown(rt: bastion.Runtime, pool: Pool) -> None:
    await pool.supervisor.stop()


async def submit(user: lt.User) -> None:
    pool: Pool = user.context
    n = next(pool.ids)
    agent = WORKERS[n % len(WORKERS)]
    await act(rt_ref(user, agent), "queue", call_timeout=2.0, type="double", payload=n,
              id=f"job-{n}")  # fmt: skip
    pool.ledger.accept(agent, f"job-{n}")  # accepted: from here on it must not be lost


def rt_ref(user: lt.User, name: str) -> bastion.ActorRef:
    return user.runtime.ref(name)


async def verify(rt: bastion.Runtime, pool: Pool) -> dict[str, Any]:
    return await pool.ledger.verify(rt)


def pool_test(chaos: lt.Chaos | None) -> lt.LoadTest:
    return lt.LoadTest([lt.Scenario("submit", submit)], setup=setup, teardown=teardown,
                       chaos=chaos)  # fmt: skip


async def test_chaos_against_a_task_agent_pool_loses_nothing() -> None:
    chaos = lt.Chaos(
        supervisor="pool",
        kill_rate=4.0,
        stores=lambda pool: [pool.store],
        slow_writes=0.1,
        write_delay=0.05,
        failing_writes=0.05,
        verify=verify,
    )
    result = await lt.run(
        pool_test(chaos), load=lt.OpenModel(rate=100), duration=10.0, chaos=chaos, seed=11
    )
    summary = result.chaos_summary
    assert summary["faults"]["kill"] >= 20
    assert summary["faults"]["store_fail"] > 0
    assert summary["faults"]["store_slow"] > 0
    assert summary["restarts"] >= summary["faults"]["kill"]
    assert result.overall.failed > 0  # the faults were felt by the load...
    assert summary["accepted"] == result.overall.ok > 500  # ...and every accepted job
    assert summary["lost"] == 0
    assert summary["completed"] + summary["failed"] == summary["accepted"]
    assert result.passed
    kinds = {event.kind for event in result.chaos}
    assert kinds == {"kill", "store_fail", "store_slow"}
    # the report shows what followed each fault
    assert len(result.around_faults) == min(200, len(result.chaos))
    assert sum(f["errors_after"] for f in result.around_faults) > 0


async def test_the_ledger_notices_a_lost_task() -> None:
    """The check is not vacuous: a task recorded as accepted that no agent holds is lost."""

    async def verify_with_a_ghost(rt: bastion.Runtime, pool: Pool) -> dict[str, Any]:
        pool.ledger.accept("worker-0", "job-never-queued")
        return await pool.ledger.verify(rt)

    chaos = lt.Chaos(kill_rate=0.0, verify=verify_with_a_ghost)
    result = await lt.run(pool_test(chaos), load=lt.ClosedModel(users=2), iterations=20,
                          chaos=chaos)  # fmt: skip
    assert result.chaos_summary["lost"] == 1
    assert result.chaos_summary["lost_ids"] == ["job-never-queued"]
    assert not result.passed


async def test_dropped_casts_are_counted(rt: bastion.Runtime) -> None:
    class Sink(bastion.Actor):
        def __init__(self) -> None:
            self.received = 0

        def handle_cast(self, message: object) -> None:
            self.received += 1

        def handle_call(self, message: object) -> int:
            return self.received

    sink = await rt.spawn(Sink, name="sink")
    chaos = lt.Chaos(drop_casts=0.25)
    result = await lt.run([lt.cast_actor("sink", "event")], load=lt.ClosedModel(users=2),
                          iterations=2000, chaos=chaos, runtime=rt, seed=2)  # fmt: skip
    dropped = result.chaos_summary["faults"]["drop_cast"]
    assert dropped / 2000 > 0.2
    assert dropped / 2000 < 0.3
    assert await sink.call("count", timeout=1.0) == 2000 - dropped
    await sink.stop()
