"""Nodes sharing one store (virtual time, MemoryStore): ownership, failover, fencing."""

from __future__ import annotations

from typing import Any

import pytest

import bastion
from bastion._core._clock import current_clock
from bastion.agents import act
from bastion.cluster import FencedStore, LeaseLost, Node, NodeIdTaken, SharedQueue, TaskHandler
from bastion.cluster._lease import Holder, acquire_ops
from bastion.persistence import MemoryStore, Put
from bastion.testing import capture_events, wait_for
from tests.cluster._support import (
    LEASE,
    PartitionableStore,
    holders,
    hosted,
    node_stats,
    start_node,
)

KEYS = ("c1", "c2", "c3", "c4")


async def test_one_node_holds_and_serves_every_agent(rt: bastion.Runtime) -> None:
    store = MemoryStore()
    node = await start_node(rt, store, "a", hosted(*KEYS))
    assert holders(node) == dict.fromkeys(KEYS, "a")
    assert await act(rt.ref("c1"), "add", n=2) == 2
    stats = node_stats(node)
    assert stats.lease_valid
    assert stats.acquired == 4
    await node.stop()


async def test_a_second_node_gets_its_share_and_the_state_moves_with_the_agent(
    rt: bastion.Runtime,
) -> None:
    store = MemoryStore()
    a = await start_node(rt, store, "a", hosted(*KEYS))
    for key in KEYS:
        await act(rt.ref(key), "add", n=10)
    b = await start_node(rt, store, "b", hosted(*KEYS))

    def balanced() -> bool:
        owned = holders(a, b)
        return len(owned) == 4 and list(owned.values()).count("b") == 2

    await wait_for(balanced, timeout=10.0, what="the agents to spread over two nodes")
    for key in KEYS:  # wherever an agent went, it restored its count
        assert await act(rt.ref(key), "add", n=1) == 11
    assert node_stats(a).released == 2
    await a.stop()
    await b.stop()


async def test_a_partitioned_node_steps_down_before_another_takes_over(
    rt: bastion.Runtime,
) -> None:
    shared = MemoryStore()
    cut_off = PartitionableStore(shared)
    a = await start_node(rt, cut_off, "a", hosted(*KEYS))
    for key in KEYS:
        await act(rt.ref(key), "add", n=5)
    b = await start_node(rt, shared, "b", hosted(*KEYS))
    await wait_for(lambda: len(holders(a, b)) == 4 and node_stats(b).owned, timeout=10.0)
    moved_from_a = set(node_stats(a).owned)
    cut_off.cut = True
    cut_at = rt.clock.now()

    await wait_for(lambda: not node_stats(a).owned, timeout=10.0, what="a to step down")
    stepped_down_after = rt.clock.now() - cut_at
    await wait_for(lambda: len(node_stats(b).owned) == 4, timeout=10.0, what="b to take over")
    taken_over_after = rt.clock.now() - cut_at

    # a stops by its own deadline (to the test's polling precision), b takes over only
    # after a full lease since a's last renewal: never two holders at once
    assert stepped_down_after < LEASE.duration - LEASE.safety_margin + LEASE.check
    assert taken_over_after >= LEASE.duration
    assert node_stats(a).stepped_down == 1
    for key in moved_from_a:  # every acknowledged add survived the move
        assert await act(rt.ref(key), "get") == 5
    cut_off.cut = False  # healed: a rejoins, and the agents spread again
    await wait_for(lambda: len(node_stats(a).owned) == 2, timeout=10.0, what="a to rejoin")
    await a.stop()
    await b.stop()


async def test_a_clean_stop_hands_the_agents_over_without_waiting_for_the_lease(
    rt: bastion.Runtime,
) -> None:
    store = MemoryStore()
    a = await start_node(rt, store, "a", hosted(*KEYS))
    b = await start_node(rt, store, "b", hosted(*KEYS))
    await wait_for(lambda: len(holders(a, b)) == 4 and node_stats(b).owned, timeout=10.0)
    await a.stop()
    stopped_at = rt.clock.now()
    await wait_for(lambda: len(node_stats(b).owned) == 4, timeout=10.0)
    assert rt.clock.now() - stopped_at < LEASE.duration
    await b.stop()


async def test_writes_of_a_replaced_holder_are_rejected_whole(rt: bastion.Runtime) -> None:
    """A holder paused past its lease (here: its fenced store kept) cannot write after a
    takeover, not even before it notices."""
    store = MemoryStore()
    a = await start_node(rt, store, "a", hosted("c1"))
    await act(rt.ref("c1"), "add", n=3)
    cell = rt.ref("c1")._resolve_or_none()
    assert cell is not None
    stale_store = cell.actor.store  # type: ignore[attr-defined]  # what the agent writes through
    assert isinstance(stale_store, FencedStore)
    await a.stop()  # releases; b takes over and writes
    b = await start_node(rt, store, "b", hosted("c1"))
    await act(rt.ref("c1"), "add", n=1)
    stale_store._lost = False  # as if node a had never noticed (a paused process)
    stale_store._valid = lambda: True
    with pytest.raises(LeaseLost) as info:
        await stale_store.write([Put("agent/c1", "state", b"stale")])
    assert info.value.context["owner"] == "agent/c1"
    assert stale_store.lost
    assert await act(rt.ref("c1"), "get") == 4
    await b.stop()


async def test_a_shared_queue_records_each_outcome_once_across_nodes(
    rt: bastion.Runtime,
) -> None:
    store = MemoryStore()
    ran: list[tuple[str, bytes]] = []

    def handler_of(node: str) -> TaskHandler:
        async def handle(payload: bytes) -> bytes:
            ran.append((node, payload))
            await current_clock().sleep(0.01)  # simulated work (virtual time in this test)
            return payload.upper()

        return handle

    queue = SharedQueue(store, "jobs")
    for i in range(40):
        await queue.put(f"t{i}", f"job{i}".encode())
    nodes = [
        await rt.spawn(Node, store=store, node_id=n, queues={"jobs": handler_of(n)}, lease=LEASE)
        for n in ("a", "b")
    ]
    await wait_for(lambda: len(ran) >= 40, timeout=20.0)

    async def all_done() -> Any:
        return not await queue.pending()

    await wait_for(all_done, timeout=20.0, what="the queue to drain")
    outcomes = {f"t{i}": await queue.outcome(f"t{i}") for i in range(40)}
    assert all(o is not None and o.ok for o in outcomes.values())
    assert outcomes["t7"] is not None
    assert outcomes["t7"].result == b"JOB7"
    assert {o.node for o in outcomes.values() if o is not None} == {"a", "b"}
    for i in range(40):  # each outcome written once (compare-and-set from absent)
        record = await store.read(queue.done_namespace, f"t{i}")
        assert record is not None
        assert record.version == 1
    for node in nodes:
        await node.stop()


async def test_a_renewal_whose_answer_was_lost_is_adopted_not_taken_for_a_twin(
    rt: bastion.Runtime,
) -> None:
    shared = MemoryStore()
    flaky = PartitionableStore(shared)
    a = await start_node(rt, flaky, "a", hosted("c1"))
    flaky.lose_answers = 1  # the next renewal commits, its answer times out
    renewals = node_stats(a).renewals
    await wait_for(lambda: node_stats(a).renewals >= renewals + 2, timeout=10.0)
    assert node_stats(a).renew_failures >= 2  # the lost answer, then the conflict it caused
    assert node_stats(a).owned == ("c1",)
    await a.stop()


async def test_a_second_process_with_the_same_node_id_is_refused(rt: bastion.Runtime) -> None:
    store = MemoryStore()
    a = await start_node(rt, store, "a", [])
    with capture_events(("bastion", "actor", "crash")) as events:
        twin = await rt.spawn(Node, store=store, node_id="a", lease=LEASE)
        await wait_for(lambda: not (a.is_alive and twin.is_alive), timeout=10.0, what="a crash")
    errors = [e.metadata.get("reason") for e in events.named("bastion", "actor", "crash")]
    assert any(isinstance(error, NodeIdTaken) for error in errors), errors
    survivor = a if a.is_alive else twin
    await survivor.stop()


async def test_a_lease_held_in_a_nodes_name_but_not_run_there_is_handed_back(
    rt: bastion.Runtime,
) -> None:
    """Leases left in a node's name (a release that failed, the node's earlier life): the
    node runs them while under its share and releases the rest, so none is left unrun."""
    store = MemoryStore()
    for key in KEYS:  # all recorded for node a, run nowhere
        owner = f"agent/{key}"
        await store.write(acquire_ops(owner, "a", Holder(owner, None, 0, False), None))
    b = await start_node(rt, store, "b", hosted(*KEYS))
    a = await start_node(rt, store, "a", hosted(*KEYS))  # sees b: its share is 2 of 4
    await wait_for(lambda: len(holders(a, b)) == 4, timeout=10.0, what="every agent run")
    assert len(node_stats(a).owned) == 2
    assert len(node_stats(b).owned) == 2
    await a.stop()
    await b.stop()
