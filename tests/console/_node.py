"""A node for the console's browser and schemathesis tests, run as its own process.

``python tests/console/_node.py TOKEN`` starts a supervision tree with steady traffic,
serves the console on 127.0.0.1 (a free port) and prints one line
``console <url> <token>``. It then reads commands on stdin: ``crash <child>`` crashes
that child of the ``pool`` supervisor (a real crash, so the supervisor restarts it),
``quit`` stops the node. It also stops when stdin closes.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import bastion
from bastion.console import serve
from bastion.lowlevel import send  # noqa: BAS001 -- the node leaves a few dead letters to show


class Worker(bastion.Actor):
    """Answers calls after a little work; ``"boom"`` crashes it."""

    async def handle_call(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("crash injected by the test")
        await self.runtime.clock.sleep(0.002)
        return message


class Traffic(bastion.Actor):
    """Calls each pool worker every 50 ms, so the charts have something to show."""

    def on_start(self) -> None:
        self.send_interval(0.05, "tick")

    async def handle_info(self, message: Any) -> None:
        for child in ("w1", "w2", "w3"):
            ref = self.runtime.whereis(f"pool-{child}")
            if ref is not None:
                with contextlib.suppress(
                    bastion.ActorCrashed, bastion.ActorNotAlive, bastion.CallTimeout
                ):
                    await ref.call("work", timeout=1.0)


def _tree() -> list[bastion.ChildSpec]:
    workers = [bastion.ChildSpec(w, Worker, name=f"pool-{w}") for w in ("w1", "w2", "w3")]
    pool = bastion.ChildSpec(
        "pool",
        bastion.Supervisor,
        kwargs={"children": workers, "intensity": bastion.RestartIntensity(100, 60.0)},
        name="pool",
    )
    return [pool, bastion.ChildSpec("traffic", Traffic, name="traffic")]


async def main(token: str) -> None:
    rt = bastion.current_runtime()
    root = await rt.start_supervisor(_tree(), name="app")
    gone = await rt.spawn(Worker, name="mailroom")
    await gone.stop()
    for n in range(3):
        send(gone, f"parcel {n}")  # noqa: BAS001
    console = await serve(rt, port=0, token=token, interval=0.5)
    print(f"console {console.url} {console.token}", flush=True)
    while True:
        line = await rt.tasks.run_blocking(sys.stdin.readline, timeout=3600.0)
        command = line.split()
        if not command or command[0] == "quit":
            break
        if command[0] == "crash" and len(command) == 2:
            ref = rt.whereis(f"pool-{command[1]}")
            if ref is not None:
                try:
                    await ref.call("boom", timeout=1.0)
                except bastion.ActorCrashed:
                    print(f"crashed {command[1]}", flush=True)
    await console.stop()
    await root.stop()


if __name__ == "__main__":
    bastion.run(lambda: main(sys.argv[1]))
