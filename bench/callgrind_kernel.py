"""CPU instructions per kernel operation, counted with valgrind's callgrind.

Wall-clock ratios on a shared machine swing by ±30 %; an instruction count does not.
For each tree (this one by default, or a commit checked out in a temporary worktree)
and each operation, a child Python runs under ``valgrind --tool=callgrind`` twice: once
doing only the warm-up, once doing the warm-up and ``N`` more operations. The
difference divided by ``N`` is the cost of one operation (start-up, imports and the
warm-up cancel out). GC is off and hashes are seeded in the child, so a count repeats
to about ±1 %. The child exits without shutting the runtime down, so stopping the
spawned actors is not counted.

Operations: ``cast`` (``await ref.cast(i)`` to an actor that counts, mailbox drained by
the actor as in ``bench_kernel``), ``call`` (``await ref.call(i)``), ``spawn``
(``await rt.spawn`` of an actor without ``on_start``), ``spawn_on_start`` (an actor
whose ``on_start`` is a plain method), ``spawn_async_start`` (an ``async`` one) and
``spawn_agent`` (an ``Agent`` subclass with a ``setup``).

    python bench/callgrind_kernel.py                         # this tree, every operation
    python bench/callgrind_kernel.py --commit 0683ba6 --ops cast,call
    python bench/callgrind_kernel.py --keep /tmp/cg --ops cast  # keep callgrind.out files
    callgrind_annotate /tmp/cg/<tree>-cast-full.out | head -40

Needs ``valgrind`` (``apt-get install -y valgrind``). Each child takes 10-60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OPS = ("cast", "call", "spawn", "spawn_on_start", "spawn_async_start", "spawn_agent")
WARMUP = 2000
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


# -- the child: runs under valgrind ------------------------------------------------------
async def _child(op: str, n: int) -> None:
    import bastion
    from bastion.agents import Agent

    class Sink(bastion.Actor):
        def __init__(self) -> None:
            self.count = 0

        def handle_cast(self, message: Any) -> None:
            self.count += 1

        def handle_call(self, message: Any) -> Any:
            return message

    class Idle(bastion.Actor):
        pass

    class Starts(bastion.Actor):
        def on_start(self) -> None:
            self.ready = True

    class AsyncStarts(bastion.Actor):
        async def on_start(self) -> None:
            self.ready = True

    class SetupAgent(Agent):
        async def setup(self) -> None:
            self.ready = True

    async with bastion.open_runtime() as rt:
        if op in ("cast", "call"):
            ref = await rt.spawn(Sink)
            send = ref.cast if op == "cast" else ref.call
            for i in range(WARMUP + n):
                await send(i)
            await ref.call("flush", timeout=60.0)
        else:
            actor = {"spawn": Idle, "spawn_on_start": Starts, "spawn_async_start": AsyncStarts}
            cls = actor.get(op, SetupAgent)
            for _ in range(WARMUP + n):
                await rt.spawn(cls)
        sys.stdout.flush()
        os._exit(0)  # skip the shutdown: stopping the actors is not what is counted


def _run_child(argv: list[str]) -> None:
    gc.disable()
    op, n = argv[0], int(argv[1])
    asyncio.run(_child(op, n))


# -- the parent: runs the children, prints the table -------------------------------------
def _instructions(tree: Path, op: str, n: int, keep: Path | None, label: str) -> int:
    out = "/dev/null" if keep is None else str(keep / f"{label}-{op}-{'full' if n else 'warm'}.out")
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), PYTHONHASHSEED="0")
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        op,
        str(n),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    match = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"{label} {op}: child failed\n{done.stderr[-3000:]}")
    return int(match.group(1))


def per_operation(tree: Path, op: str, n: int, keep: Path | None, label: str) -> float:
    """Instructions of one ``op`` on ``tree``: (warm-up + n) minus warm-up, over n."""
    warm = _instructions(tree, op, 0, keep, label)
    full = _instructions(tree, op, n, keep, label)
    return (full - warm) / n


def _checkout(commit: str, scratch: Path) -> Path:
    path = scratch / commit
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
        check=True,
        capture_output=True,
    )
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _run_child(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="a source tree (has src/)")
    parser.add_argument("--commit", action="append", default=[], help="a commit of this repo")
    parser.add_argument("--ops", default=",".join(OPS), help=f"comma-separated: {OPS}")
    parser.add_argument("-n", type=int, default=30_000, help="operations counted (default 30k)")
    parser.add_argument("--keep", type=Path, help="keep the callgrind.out files here")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")
    ops = [op for op in args.ops.split(",") if op]
    unknown = set(ops) - set(OPS)
    if unknown:
        parser.error(f"unknown operations {sorted(unknown)}; choose from {OPS}")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bastion-cg-") as scratch:
        trees = [(Path(t).resolve().name, Path(t).resolve()) for t in args.tree]
        trees += [(c, _checkout(c, Path(scratch))) for c in args.commit]
        if not trees:
            trees = [("this tree", ROOT)]
        try:
            print(f"{'tree':<20} " + " ".join(f"{op:>18}" for op in ops), flush=True)
            for label, tree in trees:
                counts = [per_operation(tree, op, args.n, args.keep, label) for op in ops]
                print(f"{label:<20} " + " ".join(f"{c:>18,.0f}" for c in counts), flush=True)
        finally:
            for commit in args.commit:
                remove = ["worktree", "remove", "--force", str(Path(scratch) / commit)]
                subprocess.run(["git", "-C", str(ROOT), *remove], check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
