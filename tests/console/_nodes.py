"""What the console tests run: a small supervision tree with traffic, and a client."""

from __future__ import annotations

from typing import Any

import httpx

import bastion
from bastion.console import ConsoleApp


class Worker(bastion.Actor):
    """Answers calls; ``"boom"`` crashes it (an injected fault)."""

    def handle_call(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("injected crash")
        return message

    def handle_cast(self, message: Any) -> None:
        pass


class Tree:
    """The test tree; ``stop()`` stops it and the unsupervised actor."""

    def __init__(self, root: bastion.SupervisorHandle, loner: bastion.ActorRef) -> None:
        self.root = root
        self.loner = loner

    async def stop(self) -> None:
        await self.root.stop()
        await self.loner.stop()


async def start_tree(rt: bastion.Runtime) -> Tree:
    """``pool`` (w1, w2) under ``root``, plus one unsupervised actor; some calls made."""
    pool = bastion.ChildSpec(
        "pool",
        bastion.Supervisor,
        kwargs={
            "children": [bastion.ChildSpec("w1", Worker), bastion.ChildSpec("w2", Worker)],
            "intensity": bastion.RestartIntensity(10, max_seconds=60.0),
        },
        name="pool",
    )
    root = await rt.start_supervisor([pool, bastion.ChildSpec("solo", Worker)], name="root")
    loner = await rt.spawn(Worker, name="loner")
    for n in range(10):
        await loner.call(n, timeout=1.0)
    return Tree(root, loner)


def client(app: ConsoleApp, token: str | None = None) -> httpx.AsyncClient:
    """An httpx client talking to ``app`` in process (no network)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", headers=headers
    )


def auth(app: ConsoleApp) -> dict[str, str]:
    """The header a control action needs."""
    return {"Authorization": f"Bearer {app.token}"}
