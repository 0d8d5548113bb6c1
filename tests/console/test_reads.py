"""The read endpoints answer what the runtime's statistics and metrics say."""

from __future__ import annotations

import msgspec
import pytest

import bastion
from bastion.console import console_app
from bastion.console._tree import find_supervisor
from bastion.testing import wait_for
from tests.console._nodes import Worker, client, start_tree


async def test_the_tree_lists_supervisors_children_strategies_and_restarts(
    rt: bastion.Runtime,
) -> None:
    root = await start_tree(rt)
    with pytest.raises(bastion.ActorCrashed):
        await _crash(rt)
    await rt.wait_idle()
    app = console_app(rt)
    async with client(app) as http:
        tree = (await http.get("/api/tree")).json()
    assert tree["roots"] == ["root"]
    by_id = {s["id"]: s for s in tree["supervisors"]}
    assert set(by_id) == {"root", "pool"}
    assert by_id["pool"]["parent"] == "root"
    assert by_id["pool"]["child_id"] == "pool"
    assert by_id["pool"]["strategy"] == "one_for_one"
    assert by_id["pool"]["restarts"] == 1
    assert by_id["pool"]["max_restarts"] == 10
    assert by_id["pool"]["intensity_used"] == pytest.approx(0.1)
    children = {c["id"]: c for c in by_id["pool"]["child_rows"]}
    assert children["w1"]["restarts"] == 1
    assert children["w2"]["restarts"] == 0
    assert all(c["alive"] for c in children.values())
    nested = {c["id"]: c for c in by_id["root"]["child_rows"]}
    assert nested["pool"]["supervisor"] == "pool"
    assert nested["solo"]["supervisor"] is None
    assert tree["unsupervised_actors"] == 1  # loner
    await root.stop()


async def _crash(rt: bastion.Runtime) -> None:
    """Crash the pool's w1 (pool's handle reached the way the console finds it)."""
    handle = find_supervisor(rt, "pool")
    assert handle is not None
    await handle.child("w1").call("boom", timeout=1.0)


async def test_a_supervisor_page_lists_its_children_and_unknown_ids_are_404(
    rt: bastion.Runtime,
) -> None:
    root = await start_tree(rt)
    async with client(console_app(rt)) as http:
        page = (await http.get("/api/supervisors/pool", params={"limit": 1, "offset": 1})).json()
        missing = await http.get("/api/supervisors/nope")
        bad = await http.get("/api/supervisors/pool", params={"limit": 0})
    assert page["supervisor"]["id"] == "pool"
    assert page["children"]["total"] == 2
    assert [c["id"] for c in page["children"]["items"]] == ["w2"]
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_supervisor"
    assert bad.status_code == 400
    assert "limit" in bad.json()["error"]["message"]
    await root.stop()


async def test_actors_are_paginated_sorted_filtered_and_carry_their_place(
    rt: bastion.Runtime,
) -> None:
    root = await start_tree(rt)
    app = console_app(rt, interval=1.0)
    async with client(app) as http:
        await http.get("/api/actors")  # first sample: the baseline for rates
        for n in range(30):
            await rt.ref("loner").call(n, timeout=1.0)
        await rt.clock.sleep(1.0)
        page = (await http.get("/api/actors", params={"limit": 2})).json()
        everyone = (await http.get("/api/actors")).json()
        workers = (await http.get("/api/actors", params={"class": "Worker", "sort": "id"})).json()
        pool = (await http.get("/api/actors", params={"supervisor": "pool"})).json()
        bad = await http.get("/api/actors", params={"sort": "cpu"})
    assert page["total"] == 6
    assert len(page["items"]) == 2
    # Sorted busiest first. Which sample the page reads depends on where the console's
    # own sampling (sliced by wall time) stands, so the rates are checked for order and
    # the calls by the processed count, not by one exact rate.
    rates = [a["rate"] for a in page["items"]]
    assert rates == sorted(rates, reverse=True)
    loner = next(a for a in everyone["items"] if a["name"] == "loner")
    assert loner["processed"] >= 30
    assert [a["actor_class"] for a in workers["items"]] == ["Worker"] * 4
    assert {a["child_id"] for a in pool["items"]} == {"w1", "w2"}
    assert bad.status_code == 400
    await root.stop()


async def test_the_summary_aggregates_by_class_and_by_supervisor(rt: bastion.Runtime) -> None:
    root = await start_tree(rt)
    async with client(console_app(rt)) as http:
        by_class = (await http.get("/api/actors/summary")).json()
        by_sup = (await http.get("/api/actors/summary", params={"by": "supervisor"})).json()
    workers = next(g for g in by_class["groups"] if g["key"] == "Worker")
    assert workers["actors"] == 4
    assert workers["latency_p99"] is not None
    assert workers["calls_per_second"] is not None
    pool = next(g for g in by_sup["groups"] if g["key"] == "pool")
    assert pool["actors"] == 2
    assert pool["latency_p99"] is None
    await root.stop()


async def test_dead_letters_show_newest_first_with_reason_and_statistics(
    rt: bastion.Runtime,
) -> None:
    from bastion.lowlevel import send

    ref = await rt.spawn(Worker, name="gone")
    await ref.stop()
    first = await rt.spawn(Worker, name="target")
    await first.stop()
    send(first, "lost-1")  # noqa: BAS101 -- an unchecked send to a stopped actor makes the dead letters under test
    send(first, "lost-2")  # noqa: BAS101 -- an unchecked send to a stopped actor makes the dead letters under test
    async with client(console_app(rt)) as http:
        answer = (await http.get("/api/dead-letters", params={"limit": 1})).json()
        other = (await http.get("/api/dead-letters", params={"reason": "nope"})).json()
    assert answer["statistics"]["total"] >= 2
    assert [item["message"] for item in answer["items"]] == ["'lost-2'"]
    assert answer["items"][0]["name"] == "target"
    assert other["items"] == []


async def test_health_metrics_series_and_overview(rt: bastion.Runtime) -> None:
    root = await start_tree(rt)
    async with client(console_app(rt)) as http:
        health = (await http.get("/api/health")).json()
        one = (await http.get("/api/metrics", params={"name": "bastion_calls"})).json()
        unknown = await http.get("/api/metrics", params={"name": "bastion_nope"})
        await rt.clock.sleep(1.5)
        series = (await http.get("/api/series")).json()
        overview = (await http.get("/api/overview")).json()
    assert health["available"]
    assert health["status"] == "ok"
    assert {s["signal"] for s in health["signals"]} >= {"error_rate", "latency_p99"}
    (family,) = one["families"]
    assert family["kind"] == "counter"
    assert family["label_names"] == [
        "actor_class",
        "outcome",
        "cohort",
    ]
    assert unknown.status_code == 404
    assert len(series["points"]) == 2
    assert series["points"][-1]["actors"] == 6
    assert overview["runtime"]["actors"] == 6
    assert overview["supervisors"] == 2
    await root.stop()


async def test_agents_and_task_agent_queues(rt: bastion.Runtime) -> None:
    from bastion.agents import TaskAgent
    from bastion.persistence import MemoryStore

    store = MemoryStore()
    agent = await rt.spawn(TaskAgent, name="jobs", store=store, handlers={"t": lambda task: 1})
    async with client(console_app(rt)) as http:
        agents = (await http.get("/api/agents")).json()
        queues = (await http.get("/api/task-agents")).json()
    jobs = next(a for a in agents["items"] if a["name"] == "jobs")
    assert jobs["actor_class"] == "TaskAgent"
    assert jobs["health"] is not None
    assert queues["total"] == 1
    (status,) = queues["items"]
    assert status["name"] == "jobs"
    assert status["available"]
    assert status["queued"] == 0
    assert status["status"] == "idle"
    await agent.stop()


async def test_live_events_carry_one_snapshot_per_interval(rt: bastion.Runtime) -> None:
    root = await start_tree(rt)
    async with client(console_app(rt, interval=0.5)) as http:
        response = await http.get("/api/events", params={"max_events": 3})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    snapshots = [msgspec.json.decode(e) for e in events]
    assert [s["seq"] for s in snapshots] == [1, 2, 3]
    assert {s["id"] for s in snapshots[0]["supervisors"]} == {"root", "pool"}
    assert snapshots[-1]["runtime"]["actors"] == 6
    await root.stop()


async def test_samples_are_shared_between_clients_within_an_interval(rt: bastion.Runtime) -> None:
    root = await start_tree(rt)
    app = console_app(rt, interval=5.0)
    async with client(app) as http:
        first = (await http.get("/api/overview")).json()["sample"]["seq"]
        again = (await http.get("/api/tree")).json()["sample"]["seq"]
        await rt.clock.sleep(5.0)
        later = (await http.get("/api/tree")).json()["sample"]["seq"]
    assert first == again == 1
    assert later == 2
    await root.stop()


async def test_a_crash_appears_as_a_restart_in_the_next_sample(rt: bastion.Runtime) -> None:
    root = await start_tree(rt)
    app = console_app(rt, interval=0.5)
    async with client(app) as http:
        with pytest.raises(bastion.ActorCrashed):
            await _crash(rt)

        async def restarted() -> bool:
            tree = (await http.get("/api/tree")).json()
            pool = next(s for s in tree["supervisors"] if s["id"] == "pool")
            return pool["restarts"] == 1

        assert await wait_for(restarted, timeout=5.0)
    await root.stop()


async def test_a_runtime_without_metrics_is_still_shown(rt: bastion.Runtime) -> None:
    async with bastion.open_runtime(metrics=False) as quiet:
        await quiet.spawn(Worker, name="w")
        async with client(console_app(quiet)) as http:
            health = (await http.get("/api/health")).json()
            series = (await http.get("/api/series")).json()
            actors = (await http.get("/api/actors")).json()
    assert health["available"] is False
    assert health["status"] is None
    assert series["points"][0]["latency_p99"] is None
    assert actors["total"] == 1
