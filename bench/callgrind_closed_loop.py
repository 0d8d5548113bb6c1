"""Loop-thread CPU instructions per acknowledged task, counted with valgrind's callgrind.

The closed loop of ``bench_closed_loop.py`` (8 TaskAgents, each client queues a task,
waits for its acknowledgement, queues the next) under ``valgrind --tool=callgrind
--separate-threads=yes``, once with ``WARMUP`` tasks and once with ``WARMUP + N``; the
difference of the **event loop's thread** divided by ``N`` is what one task costs the
loop (start-up, imports and the warm-up cancel out; the writer thread's instructions are
reported apart, the writer process is not traced). The ``cpu`` work is a fixed loop of
Python instructions (a wall-clock spin would shrink under valgrind), ``io`` a 1 ms
``asyncio.sleep``. GC is off and hashes are seeded in the child.

    python bench/callgrind_closed_loop.py                       # every store, cpu, 64 clients
    python bench/callgrind_closed_loop.py --stores memory,loop --workload io --clients 16
    python bench/callgrind_closed_loop.py --tree /path/to/other/checkout --stores process
    python bench/callgrind_closed_loop.py --keep /tmp/cg   # keep the callgrind.out files
    callgrind_annotate /tmp/cg/<label>-loop-full.out-01 | head -60

Needs ``valgrind`` (``apt-get install -y valgrind``); each child takes a minute or two.
Not run by ``bench/run.py``.
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
STORES = ("memory", "process", "loop", "thread")
WARMUP = 128
CPU_ITERATIONS = 1000  # fixed Python work per `cpu` task (a quarter of the bench's 100 us)
_TOTALS = re.compile(r"^(?:totals|summary):\s*(\d+)", re.MULTILINE)


# -- the child: runs under valgrind ------------------------------------------------------
def _cpu(task: Any) -> int:
    n = 0
    for i in range(CPU_ITERATIONS):
        n += i
    return 0


async def _io(task: Any) -> int:
    await asyncio.sleep(1e-3)
    return 0


async def _child(store_kind: str, workload: str, clients: int, tasks: int, db: str) -> None:
    sys.path.insert(0, str(HERE))
    import bench_closed_loop as closed
    from bastion.persistence import MemoryStore, SQLiteStore

    closed.HANDLERS = {"cpu": _cpu, "io": _io}
    if store_kind == "memory":
        await closed._closed_loop(MemoryStore(), 8, clients, tasks, workload)
    else:
        async with await SQLiteStore.open(db, writer=store_kind) as store:  # type: ignore[arg-type]
            await closed._closed_loop(store, 8, clients, tasks, workload)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter shutdown: not what is counted


def _run_child(argv: list[str]) -> None:
    gc.disable()
    kind, workload, clients, tasks, db = argv[0], argv[1], int(argv[2]), int(argv[3]), argv[4]
    asyncio.run(_child(kind, workload, clients, tasks, db))


# -- the parent ----------------------------------------------------------------------------
def _instructions(
    tree: Path, kind: str, workload: str, clients: int, tasks: int, out_dir: Path, label: str
) -> tuple[int, int]:
    """(loop thread, other threads) instructions of one child run."""
    stem = out_dir / f"{label}-{kind}-{tasks}.out"
    env = dict(os.environ, PYTHONPATH=str(tree / "src"), PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory(prefix="bastion-cg-db-") as tmp:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--separate-threads=yes",
            f"--callgrind-out-file={stem}",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            kind,
            workload,
            str(clients),
            str(tasks),
            str(Path(tmp) / "bench.db"),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{label} {kind}: child failed\n{done.stderr[-3000:]}")
    per_thread: dict[int, int] = {}
    for path in out_dir.glob(f"{stem.name}-*"):
        found = _TOTALS.search(path.read_text(errors="replace"))
        if found is not None:
            per_thread[int(path.name.rsplit("-", 1)[1])] = int(found.group(1))
    if 1 not in per_thread:
        raise SystemExit(f"{label} {kind}: no count for the main thread in {out_dir}")
    return per_thread[1], sum(v for k, v in per_thread.items() if k != 1)


def _queued(tasks: int, clients: int) -> int:
    """Tasks a closed-loop run of ``tasks`` really queues (a whole number per client)."""
    return tasks // clients * clients


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _run_child(argv[1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", default=[], help="a source tree (has src/)")
    parser.add_argument("--stores", default=",".join(STORES), help=f"comma-separated: {STORES}")
    parser.add_argument("--workload", default="cpu", choices=("cpu", "io"))
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("-n", type=int, default=600, help="tasks counted (default 600)")
    parser.add_argument("--keep", type=Path, help="keep the callgrind.out files here")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")
    stores = [s for s in args.stores.split(",") if s]
    if set(stores) - set(STORES):
        parser.error(f"unknown stores {sorted(set(stores) - set(STORES))}; choose from {STORES}")
    trees = [Path(t).resolve() for t in args.tree] or [ROOT]
    with tempfile.TemporaryDirectory(prefix="bastion-cg-") as scratch:
        out_dir = args.keep or Path(scratch)
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"{'tree':<24} {'store':<8} {'loop thread/task':>17} {'other threads/task':>19}")
        for tree in trees:
            label = tree.name
            for kind in stores:
                counts = [
                    _instructions(tree, kind, args.workload, args.clients, n, out_dir, label)
                    for n in (WARMUP, WARMUP + args.n)
                ]
                done = _queued(WARMUP + args.n, args.clients) - _queued(WARMUP, args.clients)
                loop = (counts[1][0] - counts[0][0]) / done
                other = (counts[1][1] - counts[0][1]) / done
                print(f"{label:<24} {kind:<8} {loop:>17,.0f} {other:>19,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
