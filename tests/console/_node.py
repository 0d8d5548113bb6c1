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
from bastion.agents import act
from bastion.console import serve
from bastion.flags import Flag, Flags
from bastion.lowlevel import send
from bastion.persistence import MemoryStore
from bastion.rollout import RolloutOrchestrator, RolloutPlan, orchestrator_name
from tests.console._node_workflows import node_workflows

FLAG = "new-step"


class Worker(bastion.Actor):
    """Answers calls after a little work; ``"boom"`` crashes it."""

    async def handle_call(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("crash injected by the test")
        await self.runtime.clock.sleep(0.002)
        return message


class Step(bastion.Actor):
    """The step behind the flag (both variants healthy)."""

    async def handle_call(self, variant: Any) -> str:
        await self.runtime.clock.sleep(0.001)
        return f"done ({variant})"


class Traffic(bastion.Actor):
    """Calls each pool worker every 50 ms, so the charts have something to show, and the
    flagged step for a few users (the rollout's canary and baseline)."""

    def __init__(self, flags: Flags) -> None:
        self.flags = flags
        self.users = 0

    def on_start(self) -> None:
        self.send_interval(0.05, "tick")

    async def handle_info(self, message: Any) -> None:
        step = self.runtime.whereis("step")
        for _ in range(4):
            self.users += 1
            with self.flags.scope(FLAG, f"user-{self.users}") as evaluation:
                if step is not None:
                    await step.call(evaluation.variant, timeout=1.0)
        for child in ("w1", "w2", "w3"):
            ref = self.runtime.whereis(f"pool-{child}")
            if ref is not None:
                with contextlib.suppress(
                    bastion.ActorCrashed, bastion.ActorNotAlive, bastion.CallTimeout
                ):
                    await ref.call("work", timeout=1.0)


def _tree(flags: Flags, store: MemoryStore) -> list[bastion.ChildSpec]:
    workers = [bastion.ChildSpec(w, Worker, name=f"pool-{w}") for w in ("w1", "w2", "w3")]
    pool = bastion.ChildSpec(
        "pool",
        bastion.Supervisor,
        kwargs={"children": workers, "intensity": bastion.RestartIntensity(100, 60.0)},
        name="pool",
    )
    plan = RolloutPlan(flag=FLAG, min_dwell=30.0, min_canary_calls=50)
    rollout = bastion.ChildSpec(
        "rollout",
        RolloutOrchestrator,
        name=orchestrator_name(FLAG),
        kwargs={"flags": flags, "plan": plan, "store": store},
    )
    return [
        pool,
        bastion.ChildSpec("step", Step, name="step"),
        rollout,
        bastion.ChildSpec("traffic", Traffic, (flags,), name="traffic"),
    ]


async def main(token: str) -> None:
    rt = bastion.current_runtime()
    store = MemoryStore()
    flags = await Flags.open(store, clock=rt.clock.now)
    await flags.ensure(Flag.boolean(FLAG), actor="node", reason="define")
    root = await rt.start_supervisor(_tree(flags, store), name="app")
    await act(
        rt.ref(orchestrator_name(FLAG)), "start", actor="node", reason="demo", preflight=False
    )
    gone = await rt.spawn(Worker, name="mailroom")
    await gone.stop()
    for n in range(3):
        send(gone, f"parcel {n}")  # noqa: BAS101 -- an unchecked send to a stopped actor makes the dead letters under test
    engine = await node_workflows(rt)
    console = await serve(rt, port=0, token=token, interval=0.5, flags=flags, workflows=engine)
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
    await engine.close()
    await root.stop()
    await flags.aclose()


if __name__ == "__main__":
    bastion.run(lambda: main(sys.argv[1]))
