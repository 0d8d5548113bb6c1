"""Actors placed on a Ray cluster: calls, casts, deadlines, failure routing, node death.

One cluster (a head and a worker node, one CPU each) for the module. Ray starts a worker
process for every placed actor, which takes seconds: each test places as few as it can.
The node-death test runs last: it removes the worker node.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest

import bastion
import bastion.persistence
from bastion.agents import Act
from bastion.persistence import SQLiteStore
from bastion.ray import (
    RemoteCrash,
    StoreRecipe,
    WireError,
    ray_placement,
    where,
)
from bastion.testing import capture_events, wait_for
from tests._docs import section_examples
from tests.ray._agents import (
    MESSAGES,
    AskChild,
    Explode,
    Get,
    Ledger,
    Parent,
    Put,
    Refuse,
    Slow,
    Table,
)
from tests.ray.conftest import RayCluster

# Ray starts a worker process per placed actor: seconds on a busy machine, real time.
pytestmark = pytest.mark.bastion(runtime={"call_timeout": 30.0}, limit=60.0)

RESTART = ("bastion", "supervisor", "restart")
PLACEMENT = ray_placement(num_cpus=1, messages=MESSAGES, call_timeout=10.0)


async def test_calls_and_casts_cross_with_their_deadlines(
    rt: bastion.Runtime, ray_cluster: RayCluster
) -> None:
    ref = await rt.spawn(Table, {"a": 1}, name="table", placement=PLACEMENT)
    here = await where(ref)
    assert here.node_id in ray_cluster.node_ids()
    assert here.pid != os.getpid()
    await ref.cast(Put("b", 2))
    assert await ref.call(Get("a"), timeout=5.0) == 1
    assert await ref.call(Get("b"), timeout=5.0) == 2  # the cast arrived first: order kept
    assert await rt.ref("table").call(Get("a"), timeout=5.0) == 1  # by name, as locally

    with pytest.raises(bastion.CallTimeout):
        await ref.call(Slow(1.5), timeout=0.3)
    with pytest.raises(WireError, match="cannot cross Ray"):
        await ref.call(object(), timeout=5.0)  # bad input: refused here, nothing sent
    assert await ref.call(Get("b"), timeout=5.0) == 2  # no crash: the same incarnation
    assert (await where(ref)).pid == here.pid
    await ref.stop()


async def test_an_expected_error_returns_and_a_crash_crashes(
    rt: bastion.Runtime, ray_cluster: RayCluster
) -> None:
    sup = await rt.start_supervisor(
        [bastion.ChildSpec("table", Table, args=({"a": 1},), placement=PLACEMENT)]
    )
    ref = sup.child("table")
    with pytest.raises(bastion.BusinessError, match="over the limit") as refused:
        await ref.call(Refuse("over the limit"), timeout=5.0)
    assert refused.value.context == {"key": "'k'"}  # context values cross as their repr
    assert await ref.call(Get("a"), timeout=5.0) == 1  # still the same incarnation

    with capture_events(RESTART) as events:
        with pytest.raises(bastion.ActorCrashed) as crashed:
            await ref.call(Explode("bad state"), timeout=5.0)
        cause = crashed.value.__cause__
        assert isinstance(cause, RemoteCrash)
        assert cause.remote_type == "builtins:RuntimeError"
        assert "bad state" in cause.remote_traceback
        await wait_for(lambda: events.named(*RESTART), timeout=20.0)
    assert await ref.call(Get("a"), timeout=5.0) == 1  # a fresh host, started again
    await sup.stop()


async def test_actors_on_one_node_call_each_other_in_process(
    rt: bastion.Runtime, ray_cluster: RayCluster
) -> None:
    ref = await rt.spawn(Parent, placement=PLACEMENT)
    value, child_ref_type, pid = await ref.call(AskChild("a"), timeout=5.0)
    assert value == 1
    assert child_ref_type == "ActorRef"
    assert pid == (await where(ref)).pid
    await ref.stop()


async def test_the_docs_ray_placement_example_runs(
    rt: bastion.Runtime, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    (_, module), (where_, main) = section_examples("scale-out.md", "Ray placement")
    assert module.startswith("# ledgers.py"), "the first example is the module ledgers.py"
    (ray_cluster.app_dir / "ledgers.py").write_text(module, encoding="utf-8")
    namespace: dict[str, Any] = {}
    exec(compile(main, where_, "exec"), namespace)
    assert await namespace["run_ledger"](rt, str(tmp_path / "ledgers.db")) == 1


async def test_a_killed_host_restores_its_agent_from_postgres(
    rt: bastion.Runtime, ray_cluster: RayCluster, request: pytest.FixtureRequest
) -> None:
    postgres_store = getattr(bastion.persistence, "PostgresStore", None)
    if postgres_store is None:
        pytest.skip("this tree has no PostgresStore yet (issue 17, helper wp-pg)")
    dsn, schema = request.getfixturevalue("pg_dsn"), request.getfixturevalue("pg_schema")
    store = StoreRecipe(postgres_store.open, {"dsn": dsn, "schema": schema, "op_timeout": 10.0})
    spec = bastion.ChildSpec(
        "ledger", Ledger, name="pg-ledger", placement=ray_placement(store=store)
    )
    sup = await rt.start_supervisor([spec])
    ref = sup.child("ledger")
    for i in range(3):
        await ref.call(Act("record", {"task": f"t{i}"}), timeout=10.0)
    first = await where(ref)
    with capture_events(RESTART) as events:
        os.kill(first.pid, signal.SIGKILL)  # the host's process dies, as on an OOM kill
        await wait_for(lambda: events.named(*RESTART) and ref.is_alive, timeout=30.0)
    assert (await where(ref)).pid != first.pid
    assert await ref.call(Act("ids"), timeout=10.0) == ["t0", "t1", "t2"]
    await sup.stop()


async def test_a_dead_node_restarts_the_agent_on_another_with_its_state(
    rt: bastion.Runtime, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    store = StoreRecipe(SQLiteStore.open, {"path": str(tmp_path / "ledger.db")})
    worker = ray_cluster.worker.node_id  # first there; anywhere else once it is gone
    placement = ray_placement(num_cpus=1, node_id=worker, soft=True, store=store)
    spec = bastion.ChildSpec("ledger", Ledger, name="ledger", placement=placement)
    sup = await rt.start_supervisor([spec])
    ref = sup.child("ledger")
    first = await where(ref)
    assert first.node_id == worker
    acknowledged: list[str] = []

    async def record(task: str) -> None:
        """Record ``task``, retrying (same id: idempotent) until it is acknowledged."""
        while True:
            try:
                await ref.call(Act("record", {"task": task}), timeout=10.0)
            except (bastion.ActorCrashed, bastion.ActorNotAlive):
                await wait_for(lambda: ref.is_alive, timeout=30.0)
                continue
            acknowledged.append(task)
            return

    with capture_events(RESTART) as events:
        for i in range(5):
            await record(f"t{i}")
        loop = asyncio.get_running_loop()
        killing = loop.run_in_executor(None, ray_cluster.remove_worker)
        task = 5
        while not events.named(*RESTART):  # record while the node dies and the agent moves
            assert task < 10_000, "the supervisor never restarted the agent"
            await record(f"t{task}")
            task += 1
        await killing
        for _ in range(5):
            await record(f"t{task}")
            task += 1

    second = await where(ref)
    assert second.node_id == ray_cluster.head.node_id != worker
    stored = await ref.call(Act("ids"), timeout=10.0)
    assert set(acknowledged) <= set(stored)  # 0 acknowledged tasks lost
    assert len(acknowledged) == task
    await sup.stop()
