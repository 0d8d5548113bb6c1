"""The load tester's own ceiling, against Locust, and what it adds per iteration.

* ``noop``: iterations per second of a no-op scenario in one process (closed model,
  ``--users`` users, ``--seconds`` of recorded load) against Locust running a no-op
  task (no HTTP, ``wait_time = constant(0)``, the same number of users) on the same
  machine, interleaved round by round (A/B/A/B), each in a fresh process: Locust
  monkey-patches the interpreter with gevent, so it cannot share one with asyncio.
  Target: Bastion >= 5x Locust.
* ``workers``: ``bastion loadtest --workers 2`` against ``--workers 1`` (both through
  the CLI, same scenario), interleaved. Target: >= 1.7x on 2 cores. Beside it, the
  iterations per CPU-second of each whole run (parent and workers): equal figures mean
  the processes add no work of their own, so the rate scales with the free cores.
* ``added``: the harness's added latency per iteration: the interval between two
  consecutive starts of a recording no-op scenario under the harness (one user) minus
  the same interval in a bare ``for`` loop awaiting it; p50 and p99 in microseconds.

Machines are noisy (this one is 2 cores shared): only ratios from one run count, and
the 1-minute load average at the start and end is printed with them. ``--json``
prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stats import percentile

SRC = str(Path(__file__).resolve().parents[1] / "src")

BASTION_NOOP = """
import asyncio, json, sys, time
from bastion import loadtest as lt

async def noop(user):
    return None

async def main():
    users, seconds = int(sys.argv[1]), float(sys.argv[2])
    await lt.run(noop, load=lt.ClosedModel(users=users), duration=0.5, cooldown=1.0)  # warm
    cpu = time.process_time()
    result = await lt.run(noop, load=lt.ClosedModel(users=users), duration=seconds,
                          cooldown=1.0)
    cpu = time.process_time() - cpu
    print(json.dumps({"rate": result.overall.throughput,
                      "cpu_rate": result.overall.iterations / cpu}))

asyncio.run(main())
"""

LOCUST_NOOP = """
import json, sys, time
import gevent
from locust import User, constant, task
from locust.env import Environment

count = 0

class Noop(User):
    wait_time = constant(0)

    @task
    def noop(self):
        global count
        count += 1

users, seconds = int(sys.argv[1]), float(sys.argv[2])
env = Environment(user_classes=[Noop])
runner = env.create_local_runner()
runner.start(users, spawn_rate=users * 1000)
gevent.sleep(0.5)  # warmup, as for Bastion
start, cpu, before = time.perf_counter(), time.process_time(), count
gevent.sleep(seconds)
done = count - before
rate = done / (time.perf_counter() - start)
cpu_rate = done / (time.process_time() - cpu)
runner.quit()
print(json.dumps({"rate": rate, "cpu_rate": cpu_rate}))
"""

SCENARIO_FILE = """
from bastion import loadtest as lt

async def noop(user):
    return None

test = lt.LoadTest([lt.Scenario("noop", noop)])
"""


def _python(code: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _cli_run(scenarios: Path, users: int, seconds: float, workers: int) -> tuple[float, float]:
    """Rate (iterations per second) and iterations per CPU-second of the whole run (the
    CLI and its worker processes: their CPU time is the children's of this process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "bastion", "loadtest", str(scenarios), "--users", str(users),
         "--duration", str(seconds), "--warmup", "0.5", "--cooldown", "1", "--workers",
         str(workers), "--json"],
        capture_output=True, text=True, check=True, timeout=300,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    overall = json.loads(done.stdout)["overall"]
    return float(overall["throughput"]), overall["iterations"] / cpu


def noop_vs_locust(users: int, seconds: float, rounds: int) -> dict[str, Any]:
    """Interleaved: Bastion, Locust, Bastion, Locust, ..."""
    bastion, locust = [], []
    for _ in range(rounds):
        bastion.append(_python(BASTION_NOOP, str(users), str(seconds)))
        locust.append(_python(LOCUST_NOOP, str(users), str(seconds)))
    ratios = [b["rate"] / loc["rate"] for b, loc in zip(bastion, locust, strict=True)]
    cpu_ratios = [b["cpu_rate"] / loc["cpu_rate"] for b, loc in zip(bastion, locust, strict=True)]
    return {
        "users": users,
        "bastion_per_s": [round(r["rate"]) for r in bastion],
        "locust_per_s": [round(r["rate"]) for r in locust],
        "ratio_median": round(statistics.median(ratios), 2),
        "ratios": [round(r, 2) for r in ratios],
        "bastion_per_cpu_s": [round(r["cpu_rate"]) for r in bastion],
        "locust_per_cpu_s": [round(r["cpu_rate"]) for r in locust],
        "cpu_ratio_median": round(statistics.median(cpu_ratios), 2),
        "target": ">= 5x",
    }


def workers_scaling(users: int, seconds: float, rounds: int) -> dict[str, Any]:
    """Interleaved: --workers 1, --workers 2, --workers 1, ..."""
    with tempfile.TemporaryDirectory() as scratch:
        scenarios = Path(scratch) / "noop.py"
        scenarios.write_text(textwrap.dedent(SCENARIO_FILE), encoding="utf-8")
        one, two = [], []
        for _ in range(rounds):
            one.append(_cli_run(scenarios, users, seconds, 1))
            two.append(_cli_run(scenarios, users, seconds, 2))
    ratios = [b[0] / a[0] for a, b in zip(one, two, strict=True)]
    per_cpu = [b[1] / a[1] for a, b in zip(one, two, strict=True)]
    return {
        "users": users,
        "one_process_per_s": [round(r[0]) for r in one],
        "two_workers_per_s": [round(r[0]) for r in two],
        "ratio_median": round(statistics.median(ratios), 2),
        "ratios": [round(r, 2) for r in ratios],
        "one_process_per_cpu_s": [round(r[1]) for r in one],
        "two_workers_per_cpu_s": [round(r[1]) for r in two],
        "per_cpu_ratio_median": round(statistics.median(per_cpu), 2),
        "target": ">= 1.7x",
    }


def added_latency(iterations: int) -> dict[str, Any]:
    """Intervals between consecutive starts: harness (one user) minus a bare loop."""
    from bastion import loadtest as lt

    async def measure() -> tuple[list[int], list[int]]:
        stamps: list[int] = []
        clock = time.perf_counter_ns

        async def record(user: object) -> None:
            stamps.append(clock())

        for _ in range(iterations):  # the bare loop
            await record(None)
        bare = list(stamps)
        stamps.clear()
        await lt.run(record, load=lt.ClosedModel(users=1), iterations=iterations, cooldown=1.0)
        return bare, list(stamps)

    bare, harness = asyncio.run(measure())

    def gaps(stamps: list[int]) -> list[float]:
        return sorted((b - a) / 1000 for a, b in itertools.pairwise(stamps))

    bare_gaps, harness_gaps = gaps(bare), gaps(harness)
    out: dict[str, Any] = {"iterations": iterations}
    for q in (50, 99):
        b, h = percentile(bare_gaps, q), percentile(harness_gaps, q)
        out[f"bare_p{q}_us"] = round(b, 3)
        out[f"harness_p{q}_us"] = round(h, 3)
        out[f"added_p{q}_us"] = round(h - b, 3)
    return out


def measure(
    users: int, seconds: float, rounds: int, iterations: int, *, locust: bool = True
) -> dict[str, Any]:
    """Every figure of this benchmark, with the machine's load beside them."""
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load_1min_before": os.getloadavg()[0]}
    if locust:
        results["noop_vs_locust"] = noop_vs_locust(users, seconds, rounds)
    results["workers"] = workers_scaling(users, seconds, rounds)
    results["added"] = added_latency(iterations)
    results["load_1min_after"] = os.getloadavg()[0]
    return results


def run(quick: bool) -> dict[str, Any]:
    """Entry point for ``bench/run.py`` (Locust is skipped when it is not installed)."""
    try:
        import locust  # noqa: F401  -- only whether it is installed
    except ImportError:
        has_locust = False
    else:
        has_locust = True
    results = measure(10, 1.0 if quick else 3.0, 1 if quick else 3,
                      50_000 if quick else 200_000, locust=has_locust)  # fmt: skip
    ratios = {"loadtest_workers2_vs_1": results["workers"]["ratio_median"]}
    if has_locust:
        ratios["loadtest_noop_vs_locust"] = results["noop_vs_locust"]["ratio_median"]
        ratios["loadtest_noop_vs_locust_cpu"] = results["noop_vs_locust"]["cpu_ratio_median"]
    return {"loadtest": results, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--skip-locust", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results = measure(
        args.users, args.seconds, args.rounds, args.iterations, locust=not args.skip_locust
    )
    if args.json:
        print(json.dumps(results, sort_keys=True))
        return
    for name, value in results.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
