"""CoordinatorAgent workflows, durable against ``MemoryStore``: CPU per job, interleaved.

The job of ``bench_workflow_scale._jobs_per_s`` (3-step workflows of zero-work plain
handlers, 8 clients, 4 TaskAgents, 10 other active workflows), 800 jobs after an 80-job
warm-up, measured as loop CPU per job (``time.process_time``: the loop and the store's
helper thread), jobs/s, and SQLite group commits per job. On a shared machine jobs/s
moves by 2x between rounds; CPU per job much less. Each run is a fresh process; rounds
run every tree and store in turn (A/B/A/B), so load drifts hit every side alike.

    python bench/coordinator_ab.py --rounds 4                  # this tree, memory and loop
    python bench/coordinator_ab.py --tree base=/tmp/base/src --tree new=src --rounds 6

``--tree LABEL=SRC`` puts ``SRC`` first on ``PYTHONPATH`` (e.g. a ``git archive`` of an
older commit). Not run by ``bench/run.py`` (it takes minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IDLE = 10  # paused workflows beside the jobs


async def _run(store: Any, jobs: int, warm: int) -> dict[str, float]:
    from _coordinator_jobs import coordinated

    async with coordinated(store, IDLE) as phase:
        await phase("warm", warm)
        groups = getattr(store, "_groups", None)
        commits = [0]
        if groups is not None:  # count the loop writer's commits
            commit = groups._commit_here

            def counted(batch: Any) -> Any:
                commits[0] += 1
                return commit(batch)

            groups._commit_here = counted
        cpu, start = time.process_time(), time.perf_counter()
        await phase("run", jobs)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - start
    return {
        "cpu_us_per_job": round(cpu / jobs * 1e6, 1),
        "jobs_per_s": round(jobs / wall, 1),
        "commits_per_job": round(commits[0] / jobs, 3),
    }


async def _child(kind: str, jobs: int) -> dict[str, float]:
    from bastion.persistence import MemoryStore, SQLiteStore

    if kind == "memory":
        return await _run(MemoryStore(), jobs, 80)
    with tempfile.TemporaryDirectory() as tmp:
        async with await SQLiteStore.open(Path(tmp) / "wf.db", writer=kind) as store:  # type: ignore[arg-type]
            return await _run(store, jobs, 80)


def _spawn(src: str, kind: str, jobs: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--jobs", str(jobs)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Parse the options; run the child, or the interleaved rounds and print a summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", action="append", default=[], help="LABEL=SRC")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=800)
    parser.add_argument("--writer", default="loop", choices=("loop", "process"))
    parser.add_argument("--child", choices=("memory", "loop", "process"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child, args.jobs))))
        return
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(ROOT / "src")]]
    runs: dict[str, list[dict[str, float]]] = {}
    for r in range(args.rounds):
        for label, src in trees:
            for kind in ("memory", args.writer):
                result = _spawn(src, kind, args.jobs)
                runs.setdefault(f"{label}/{kind}", []).append(result)
                print(json.dumps({"round": r, "run": f"{label}/{kind}", **result}), flush=True)
    summary: dict[str, Any] = {}
    for label, _ in trees:
        memory, durable = runs[f"{label}/memory"], runs[f"{label}/{args.writer}"]
        cpu = [
            m["cpu_us_per_job"] / d["cpu_us_per_job"] for m, d in zip(memory, durable, strict=True)
        ]
        rate = [d["jobs_per_s"] / m["jobs_per_s"] for m, d in zip(memory, durable, strict=True)]
        summary[label] = {
            "memory_cpu_us_per_job": statistics.median(m["cpu_us_per_job"] for m in memory),
            "durable_cpu_us_per_job": statistics.median(d["cpu_us_per_job"] for d in durable),
            "durable_commits_per_job": statistics.median(d["commits_per_job"] for d in durable),
            "ratio_by_cpu": [
                round(statistics.median(cpu), 3),
                round(min(cpu), 2),
                round(max(cpu), 2),
            ],
            "ratio_by_jobs_per_s": [
                round(statistics.median(rate), 3),
                round(min(rate), 2),
                round(max(rate), 2),
            ],
        }
    print(json.dumps({"summary": summary}, indent=2))


if __name__ == "__main__":
    main()
