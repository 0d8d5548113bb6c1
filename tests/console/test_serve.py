"""``serve``: a supervised service on a real socket; it restarts on the same port."""

from __future__ import annotations

import httpx
import pytest

import bastion
from bastion.console import ConsoleService, serve
from bastion.testing import actor_state, wait_for


@pytest.mark.bastion(real_time=True)
async def test_serve_answers_over_http_and_a_stopped_server_is_restarted_on_its_port(
    rt: bastion.Runtime,
) -> None:
    console = await serve(rt, port=0, interval=0.2)
    async with httpx.AsyncClient(base_url=console.url, timeout=5.0) as http:
        assert (await http.get("/api/overview")).json()["supervisors"] == 1
        service = actor_state(console.supervisor.child("http"))
        assert isinstance(service, ConsoleService)
        assert service.port == console.port
        service._server.should_exit = True  # the HTTP server stops on its own

        async def restarted() -> bool:
            return console.supervisor.statistics().restarts == 1

        await wait_for(restarted, timeout=10.0)

        async def answers() -> bool:
            try:
                return (await http.get("/api/tree")).status_code == 200
            except httpx.TransportError:
                return False

        assert await wait_for(answers, timeout=10.0)
        series = (await http.get("/api/series")).json()
    assert len(series["points"]) >= 1  # the service samples on its own timer
    await console.stop()
    assert rt.whereis("bastion-console") is None


@pytest.mark.bastion(real_time=True)
async def test_a_taken_port_fails_the_start_at_the_call_site(rt: bastion.Runtime) -> None:
    first = await serve(rt, port=0)
    with pytest.raises(bastion.StartFailed) as caught:
        await serve(rt, port=first.port, name="second-console")
    root: BaseException | None = caught.value
    while root is not None and not isinstance(root, OSError):
        root = root.__cause__
    assert isinstance(root, OSError)
    await first.stop()


async def test_ten_thousand_actors_are_aggregated_and_paged(rt: bastion.Runtime) -> None:
    from bastion.console import console_app
    from tests.console._nodes import Worker, client

    pool = await rt.start_dynamic_supervisor(name="big", max_children=20_000)
    for n in range(10_000):
        await pool.start_child(bastion.ChildSpec(f"w{n}", Worker))
    async with client(console_app(rt)) as http:
        tree = (await http.get("/api/tree")).json()
        page = (
            await http.get("/api/supervisors/big", params={"offset": 9_990, "limit": 20})
        ).json()
        actors = (await http.get("/api/actors", params={"limit": 50})).json()
        summary = (await http.get("/api/actors/summary")).json()
        events = await http.get("/api/events", params={"max_events": 1})
    (big,) = tree["supervisors"]
    assert big["children"] == 10_000
    assert len(big["child_rows"]) == 100
    assert big["children_truncated"] is True
    assert [c["id"] for c in page["children"]["items"]] == [f"w{n}" for n in range(9_990, 10_000)]
    assert actors["total"] == 10_001
    assert len(actors["items"]) == 50
    assert {g["key"]: g["actors"] for g in summary["groups"]} == {"Worker": 10_000, "Supervisor": 1}
    assert len(events.content) < 20_000  # one event stays small: aggregates, not 10,000 rows
    await pool.stop(timeout=60.0)
