"""Control actions: token required, body validated, audited, the resulting state returned."""

from __future__ import annotations

import pytest

import bastion
from bastion.console import AuditJournal, console_app
from bastion.lowlevel import send
from tests.console._nodes import client, start_tree

RESTART = "/api/supervisors/pool/children/w1/restart"
TERMINATE = "/api/supervisors/pool/children/w2/terminate"
REPLAY = "/api/dead-letters/replay"
CONTROLS = [RESTART, TERMINATE, REPLAY]


@pytest.mark.parametrize("path", CONTROLS)
async def test_every_control_action_refuses_a_request_without_the_token(
    rt: bastion.Runtime, path: str
) -> None:
    tree = await start_tree(rt)
    app = console_app(rt)
    async with client(app) as http:
        missing = await http.post(path, json={"why": "test"})
        wrong = await http.post(path, json={"why": "test"}, headers={"Authorization": "Bearer x"})
        cookie = await http.post(
            path, json={"why": "test"}, headers={"Cookie": f"token={app.token}"}
        )
    for response in (missing, wrong, cookie):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert len(app.journal) == 0
    await tree.stop()


async def test_restart_replaces_the_child_and_is_audited(rt: bastion.Runtime) -> None:
    tree = await start_tree(rt)
    app = console_app(rt)
    before = rt.whereis("pool")
    assert before is not None
    async with client(app, app.token) as http:
        old = (await http.get("/api/supervisors/pool")).json()["children"]["items"][0]
        answer = await http.post(RESTART, json={"why": "stuck", "operator": "ada"})
        audit = (await http.get("/api/audit")).json()["entries"]
    assert answer.status_code == 200
    body = answer.json()
    assert body["child"]["alive"]
    assert body["child"]["actor_id"] != old["actor_id"]
    assert body["audit"]["who"] == "ada@127.0.0.1"
    assert body["audit"]["action"] == "child.restart"
    assert body["audit"]["target"] == "pool/w1"
    assert body["audit"]["why"] == "stuck"
    assert body["audit"]["outcome"] == "ok"
    assert audit == [body["audit"]]
    await tree.stop()


async def test_terminate_keeps_the_child_down_until_restarted(rt: bastion.Runtime) -> None:
    tree = await start_tree(rt)
    app = console_app(rt)
    async with client(app, app.token) as http:
        down = (await http.post(TERMINATE, json={"why": "maintenance"})).json()
        again = await http.post(TERMINATE, json={"why": "twice"})
        up = (
            await http.post(TERMINATE.replace("terminate", "restart"), json={"why": "back"})
        ).json()
    assert down["child"] == {
        "id": "w2", "actor_class": "Worker", "restart": "permanent", "alive": False,
        "actor_id": None,
    }  # fmt: skip
    assert again.status_code == 200
    assert again.json()["child"]["alive"] is False
    assert up["child"]["alive"]
    assert up["audit"]["detail"] == "started again"
    actions = [e.action for e in app.journal.entries()]
    assert actions == ["child.restart", "child.terminate", "child.terminate"]
    await tree.stop()


async def test_unknown_supervisors_and_children_are_404_and_not_audited(
    rt: bastion.Runtime,
) -> None:
    tree = await start_tree(rt)
    app = console_app(rt)
    async with client(app, app.token) as http:
        no_sup = await http.post("/api/supervisors/nope/children/w1/restart", json={"why": "x"})
        no_child = await http.post("/api/supervisors/pool/children/w9/restart", json={"why": "x"})
    assert no_sup.status_code == 404
    assert no_sup.json()["error"]["code"] == "unknown_supervisor"
    assert no_child.status_code == 404
    assert no_child.json()["error"]["code"] == "unknown_child"
    assert len(app.journal) == 0
    await tree.stop()


async def test_a_restart_that_fails_is_409_audited_as_failed(rt: bastion.Runtime) -> None:
    class FailsAgain(bastion.Actor):
        starts = 0

        def on_start(self) -> None:
            FailsAgain.starts += 1
            if FailsAgain.starts > 1:
                raise RuntimeError("cannot start twice")

    sup = await rt.start_supervisor([bastion.ChildSpec("once", FailsAgain)], name="fragile")
    app = console_app(rt)
    async with client(app, app.token) as http:
        answer = await http.post(
            "/api/supervisors/fragile/children/once/restart", json={"why": "try"}
        )
    assert answer.status_code == 409
    body = answer.json()
    assert body["error"]["code"] == "action_failed"
    assert "StartFailed" in body["error"]["message"]
    assert body["audit"]["outcome"] == "failed"
    assert body["child"]["alive"] is False
    await sup.stop()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "invalid_body"),
        ({"why": ""}, 422, "invalid_body"),
        ({"why": "x", "extra": 1}, 422, "invalid_body"),
        ({"why": 5}, 422, "invalid_body"),
        ({"why": "x" * 501}, 422, "invalid_body"),
    ],
)
async def test_bad_bodies_are_clear_4xx_errors(
    rt: bastion.Runtime, body: dict[str, object], status: int, code: str
) -> None:
    tree = await start_tree(rt)
    app = console_app(rt)
    async with client(app, app.token) as http:
        answer = await http.post(RESTART, json=body)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["message"]
    assert len(app.journal) == 0
    await tree.stop()


async def test_malformed_oversized_and_non_json_bodies_are_refused(rt: bastion.Runtime) -> None:
    tree = await start_tree(rt)
    app = console_app(rt)
    async with client(app, app.token) as http:
        malformed = await http.post(
            RESTART, content=b"{nope", headers={"Content-Type": "application/json"}
        )
        huge = await http.post(
            RESTART,
            content=b'{"why": "' + b"x" * 20_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        form = await http.post(RESTART, data={"why": "x"})
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_json"
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "body_too_large"
    assert form.status_code == 415
    assert len(app.journal) == 0
    await tree.stop()


async def test_replay_delivers_matching_dead_letters_and_reports_the_queue(
    rt: bastion.Runtime,
) -> None:
    received: list[object] = []

    class Sink(bastion.Actor):
        def handle_cast(self, message: object) -> None:
            received.append(message)

    old = await rt.spawn(Sink, name="sink")
    await old.stop()
    send(old, "a")  # noqa: BAS101 -- an unchecked send to a stopped actor makes the dead letters under test
    send(old, "b")  # noqa: BAS101 -- an unchecked send to a stopped actor makes the dead letters under test
    new = await rt.spawn(Sink, name="sink")
    app = console_app(rt)
    async with client(app, app.token) as http:
        none = (await http.post(REPLAY, json={"why": "x", "name": "other"})).json()
        one = (await http.post(REPLAY, json={"why": "retry", "name": "sink", "limit": 1})).json()
        rest = (await http.post(REPLAY, json={"why": "retry"})).json()
    await rt.wait_idle()
    assert none["result"] == {"delivered": 0, "failed": 0}
    assert one["result"] == {"delivered": 1, "failed": 0}
    assert one["statistics"]["size"] == 1
    assert rest["result"] == {"delivered": 1, "failed": 0}
    assert rest["statistics"]["replayed"] == 2
    assert received == ["a", "b"]
    assert one["audit"]["action"] == "dead_letters.replay"
    assert one["audit"]["detail"] == "delivered 1, failed 0"
    await new.stop()


async def test_a_journal_sink_gets_every_entry(rt: bastion.Runtime) -> None:
    written: list[object] = []
    tree = await start_tree(rt)
    app = console_app(rt, journal=AuditJournal(capacity=2, sink=written.append))
    async with client(app, app.token) as http:
        for _ in range(3):
            await http.post(REPLAY, json={"why": "sweep"})
    assert len(written) == 3
    assert len(app.journal) == 2
    assert [e.seq for e in app.journal.entries()] == [3, 2]
    await tree.stop()


async def test_unknown_paths_and_methods_are_json_errors(rt: bastion.Runtime) -> None:
    app = console_app(rt)
    async with client(app, app.token) as http:
        missing = await http.get("/api/nope")
        method = await http.delete("/api/tree")
        put = await http.put(RESTART, json={"why": "x"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert method.status_code == 405
    assert method.json()["error"]["code"] == "method_not_allowed"
    assert put.status_code == 405
