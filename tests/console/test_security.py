"""The console's security defaults: loopback, token, Host and Origin checks, no CORS."""

from __future__ import annotations

import httpx
import pytest

import bastion
from bastion.console import console_app, serve
from tests.console._nodes import client, start_tree

RESTART = "/api/supervisors/pool/children/w1/restart"


async def test_a_foreign_host_is_refused_on_every_path(rt: bastion.Runtime) -> None:
    app = console_app(rt)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://attacker.example") as http:
        page = await http.get("/")
        tree = await http.get("/api/tree")
        post = await http.post(
            RESTART, json={"why": "x"}, headers={"Authorization": f"Bearer {app.token}"}
        )
    for response in (page, tree, post):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "host_not_allowed"


async def test_loopback_names_are_served(rt: bastion.Runtime) -> None:
    app = console_app(rt)
    for base in ("http://localhost:8765", "http://127.0.0.1", "http://[::1]:8765"):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base) as http:
            assert (await http.get("/api/audit")).status_code == 200, base


async def test_a_cross_origin_post_is_refused_even_with_the_token(rt: bastion.Runtime) -> None:
    tree = await start_tree(rt)
    app = console_app(rt)
    async with client(app, app.token) as http:
        foreign = await http.post(
            RESTART, json={"why": "x"}, headers={"Origin": "https://evil.example"}
        )
        same = await http.post(
            RESTART, json={"why": "x"}, headers={"Origin": "http://127.0.0.1:8765"}
        )
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "origin_not_allowed"
    assert same.status_code == 200
    assert [e.why for e in app.journal.entries()] == ["x"]
    await tree.stop()


async def test_no_cors_headers_are_ever_sent(rt: bastion.Runtime) -> None:
    app = console_app(rt)
    async with client(app) as http:
        answer = await http.get("/api/tree", headers={"Origin": "https://evil.example"})
        preflight = await http.options(
            RESTART,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert not any(h.lower().startswith("access-control-") for h in answer.headers)
    assert not any(h.lower().startswith("access-control-") for h in preflight.headers)
    assert preflight.status_code == 405


async def test_reads_need_the_token_when_asked_but_the_page_does_not(rt: bastion.Runtime) -> None:
    app = console_app(rt, reads_need_token=True, allowed_hosts=("*",))
    async with client(app) as http:
        refused = await http.get("/api/tree")
        page = await http.get("/")
        script = await http.get("/static/app.js")
    async with client(app, app.token) as http:
        allowed = await http.get("/api/tree")
    assert refused.status_code == 401
    assert page.status_code == 200
    assert script.status_code == 200
    assert allowed.status_code == 200


async def test_the_page_is_served_with_a_strict_content_security_policy(
    rt: bastion.Runtime,
) -> None:
    async with client(console_app(rt)) as http:
        page = await http.get("/")
        traversal = await http.get("/static/../_app.py")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert traversal.status_code == 404


async def test_a_given_token_is_used_and_a_short_one_is_refused(rt: bastion.Runtime) -> None:
    app = console_app(rt, token="a-long-enough-test-token")
    assert app.token == "a-long-enough-test-token"
    with pytest.raises(ValueError, match="at least 16"):
        console_app(rt, token="short")
    assert console_app(rt).token != console_app(rt).token  # a fresh one per app


async def test_serving_beyond_loopback_without_a_token_is_refused(rt: bastion.Runtime) -> None:
    with pytest.raises(ValueError, match="without a token"):
        await serve(rt, host="0.0.0.0", port=0)
    with pytest.raises(ValueError, match="port"):
        await serve(rt, port=70_000)
    assert rt.whereis("bastion-console") is None
