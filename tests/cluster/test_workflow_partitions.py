"""Durable workflows on several nodes (virtual time, MemoryStore): each workflow is run by
the node that holds its partition's lease; a stale owner's writes are rejected; a dead
node's workflows resume elsewhere without re-running a recorded step."""

from __future__ import annotations

from typing import Any

import pytest

import bastion
from bastion._core._clock import current_clock
from bastion.cluster import LeaseLost, Node
from bastion.persistence import MemoryStore, Put, StateStore
from bastion.testing import wait_for
from bastion.workflows import WorkflowEngine, WorkflowStatus
from bastion.workflows._partitions import OwnedStore
from bastion.workflows._records import FENCE, namespace_of
from tests.cluster._support import LEASE, PartitionableStore, node_stats

STEPS = 4


class Journal:
    """Every step execution in order: (workflow id, step number, engine name); and the
    name of each engine by the id of its core (which node a run belongs to)."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, int, str]] = []
        self.engines: dict[int, str] = {}

    def add(self, workflow_id: str, number: int, engine: str) -> None:
        self.ran.append((workflow_id, number, engine))

    def name(self, engine: WorkflowEngine, name: str) -> None:
        self.engines[id(engine._core)] = name

    def clear(self) -> None:
        self.ran.clear()


JOURNAL = Journal()


@bastion.step
async def work(workflow_id: str, number: int, engine: str) -> int:
    JOURNAL.add(workflow_id, number, engine)
    await current_clock().sleep(0.3)  # simulated work (virtual time)
    return number


@bastion.workflow(name="tests.cluster.partitioned")
async def partitioned(ctx: bastion.WorkflowContext) -> list[int]:
    engine = JOURNAL.engines[id(ctx._run.core)]  # which node runs it
    return [await work(ctx.workflow_id, n, engine) for n in range(STEPS)]


async def open_engine(rt: bastion.Runtime, store: StateStore, name: str) -> WorkflowEngine:
    engine = await bastion.open_workflows(
        rt, store=store, name=name, partitions=4, discover_every=0.2
    )
    JOURNAL.name(engine, name)
    return engine


async def start_node(
    rt: bastion.Runtime, store: StateStore, node_id: str, engine: WorkflowEngine
) -> bastion.ActorRef:
    return await rt.spawn(
        Node,
        name=f"node:{node_id}",
        store=store,
        node_id=node_id,
        agents=engine.hosted(),
        lease=LEASE,
    )


def assert_no_recorded_step_ran_again(ran: list[tuple[str, int, str]]) -> None:
    """A step runs again only if it was in flight: never once its successor had started
    (a step starts only after its predecessor's record is committed)."""
    for i, (wid, number, _) in enumerate(ran):
        earlier = {(w, n) for w, n, _ in ran[:i]}
        assert (wid, number + 1) not in earlier, f"{wid} step {number} ran after it was recorded"


async def finished(store: StateStore, ids: list[str]) -> bool:
    engine_store = bastion.workflows.inspect(store)
    infos = [await engine_store.get(w) for w in ids]
    return all(i.status is WorkflowStatus.COMPLETED for i in infos)


async def test_each_workflow_runs_on_the_one_node_that_holds_its_partition(
    rt: bastion.Runtime,
) -> None:
    JOURNAL.clear()
    store = MemoryStore()
    a_engine = await open_engine(rt, store, "wf-a")
    b_engine = await open_engine(rt, store, "wf-b")
    a = await start_node(rt, store, "a", a_engine)
    b = await start_node(rt, store, "b", b_engine)
    await wait_for(lambda: len(node_stats(a).owned) == len(node_stats(b).owned) == 2)
    ids = [f"w{i}" for i in range(12)]
    for i, wid in enumerate(ids):  # started on either node, whoever owns it
        await (a_engine if i % 2 else b_engine).start(partitioned, workflow_id=wid)
    results = [await a_engine.handle(w).result(timeout=30.0) for w in ids]
    assert results == [list(range(STEPS))] * len(ids)
    runners: dict[str, set[str]] = {}
    for wid, _, engine in JOURNAL.ran:
        runners.setdefault(wid, set()).add(engine)
    assert all(len(r) == 1 for r in runners.values()), runners  # one node per workflow
    assert {e for r in runners.values() for e in r} == {"wf-a", "wf-b"}  # both worked
    assert len(JOURNAL.ran) == len(ids) * STEPS  # no step ran twice
    for each in (a_engine, b_engine):
        await each.close()
    await a.stop()
    await b.stop()


async def test_a_dead_nodes_workflows_resume_on_the_other_node(rt: bastion.Runtime) -> None:
    JOURNAL.clear()
    shared = MemoryStore()
    cut_off = PartitionableStore(shared)
    a_engine = await open_engine(rt, cut_off, "wf-a")
    a = await start_node(rt, cut_off, "a", a_engine)
    await wait_for(lambda: len(node_stats(a).owned) == 4)
    ids = [f"w{i}" for i in range(8)]
    for wid in ids:
        await a_engine.start(partitioned, workflow_id=wid)
    b_engine = await open_engine(rt, shared, "wf-b")
    b = await start_node(rt, shared, "b", b_engine)
    await wait_for(lambda: any(e == "wf-a" and n >= 1 for _, n, e in JOURNAL.ran), timeout=10.0)
    cut_off.cut = True  # node a is gone for the store: mid-step, some steps recorded

    async def all_done() -> Any:
        return await finished(shared, ids)

    await wait_for(all_done, timeout=60.0, what="every workflow to finish on node b")
    assert node_stats(a).owned == ()
    assert len(node_stats(b).owned) == 4
    assert {e for _, _, e in JOURNAL.ran} == {"wf-a", "wf-b"}
    assert_no_recorded_step_ran_again(JOURNAL.ran)
    for wid in ids:  # each step recorded once, with its own number
        assert await b_engine.handle(wid).result(timeout=1.0) == list(range(STEPS))
    await a_engine.close()
    await b_engine.close()
    cut_off.cut = False
    await a.stop()
    await b.stop()


async def test_a_stale_owners_run_writes_are_rejected_after_a_takeover(
    rt: bastion.Runtime,
) -> None:
    store = MemoryStore()
    a_engine = await open_engine(rt, store, "wf-a")
    a = await start_node(rt, store, "a", a_engine)
    await wait_for(lambda: len(node_stats(a).owned) == 4)
    owned = a_engine._core.store
    assert isinstance(owned, OwnedStore)
    ownership = a_engine._core.ownership
    assert ownership is not None
    stale = dict(ownership.stores)  # what a paused node a would still write through
    await a.stop()  # releases every partition
    b_engine = await open_engine(rt, store, "wf-b")
    b = await start_node(rt, store, "b", b_engine)
    await wait_for(lambda: len(node_stats(b).owned) == 4)
    for fenced in stale.values():  # as if node a had never noticed
        fenced._lost = False
        fenced._valid = lambda: True
    ownership.stores.update(stale)
    fence = Put(namespace_of("w1"), FENCE, b"", None)
    with pytest.raises(LeaseLost):
        await owned.write([Put(namespace_of("w1"), "meta", b"stale"), fence])
    assert await store.read(namespace_of("w1"), "meta") is None  # nothing applied
    await b.stop()
    await a_engine.close()
    await b_engine.close()


async def test_every_engine_of_a_store_must_use_the_same_partitions(
    rt: bastion.Runtime,
) -> None:
    store = MemoryStore()
    engine = await bastion.open_workflows(rt, store=store, name="wf-a", partitions=4)
    with pytest.raises(ValueError, match="partitions=4"):
        await bastion.open_workflows(rt, store=store, name="wf-b", partitions=8)
    with pytest.raises(ValueError, match="partitions=4"):
        await bastion.open_workflows(rt, store=store, name="wf-c")
    await engine.close()
    alone = await bastion.open_workflows(rt, store=MemoryStore(), name="wf-d")
    with pytest.raises(ValueError, match="no partitions"):
        alone.hosted()
    await alone.close()
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="partitions"):
            await bastion.open_workflows(rt, store=MemoryStore(), partitions=bad)  # type: ignore[arg-type]  # the test: a bad value


async def test_a_partitioned_engine_without_a_node_only_starts_and_reads(
    rt: bastion.Runtime,
) -> None:
    """The client side: starts are stored; a node that holds the partitions runs them."""
    JOURNAL.clear()
    store = MemoryStore()
    client = await open_engine(rt, store, "client")
    handle = await client.start(partitioned, workflow_id="w-client")
    assert client.statistics().active == 0
    runner = await open_engine(rt, store, "runner")
    node = await start_node(rt, store, "a", runner)
    assert await handle.result(timeout=30.0) == list(range(STEPS))  # read from the store
    assert {e for _, _, e in JOURNAL.ran} == {"runner"}
    await node.stop()
    await runner.close()
    await client.close()


@bastion.workflow(name="tests.cluster.listener")
async def listener(ctx: bastion.WorkflowContext) -> str:
    message = await ctx.recv("greeting", timeout=60.0)
    await ctx.set_event("heard", message)
    return str(message)


async def test_messages_and_events_cross_nodes(rt: bastion.Runtime) -> None:
    """A message sent from a node that does not run the workflow reaches its waiting
    ``recv`` on the owner; the event it sets is read from the other node."""
    store = MemoryStore()
    runner = await open_engine(rt, store, "runner")
    node = await start_node(rt, store, "a", runner)
    await wait_for(lambda: len(node_stats(node).owned) == 4)
    client = await open_engine(rt, store, "client")  # no node: runs nothing
    handle = await client.start(listener, workflow_id="listen-1")
    await wait_for(lambda: runner.statistics().running == 1, what="the owner to run it")
    await client.send("listen-1", "greeting", "hello")
    assert await client.get_event("listen-1", "heard", timeout=10.0) == "hello"
    assert await handle.result(timeout=10.0) == "hello"
    assert client.statistics().active == 0
    await node.stop()
    await runner.close()
    await client.close()
