"""The console's cost: a node under load, with and without 20 live dashboards.

The node runs 8 caller tasks against 8 echo actors (each call does a little CPU work)
for ``--seconds`` per round and counts completed calls. Rounds alternate (A/B/A/B...):

* A: no console;
* B: ``bastion.console.serve(rt)`` (uvicorn on 127.0.0.1, one sample per second) with
  20 Server-Sent-Events clients connected from another process (as 20 browser tabs
  would be), each reading every ``snapshot`` event.

Headline: ``throughput_ratio_cpu`` = median CPU per call of A / median of B: the share
of the node's CPU-bound throughput left with the console (target >= 0.90, i.e. the console
costs at most 10 %). Only this process's CPU is counted, so other processes on a shared
machine do not move it; ``throughput_ratio_wall`` (median calls per second B / A) is
reported beside it. The clients' own CPU is in their process, as a browser's would be.

Then, on a node of ``--actors`` idle actors (10,000): the work one sample takes (shared
by every client per interval), how many turns of the event loop it is spread over, the
longest of them, the longest loop turn a ticker saw meanwhile (medians over the 7
samples after the first), and one page of ``/api/actors``.

    python bench/bench_console.py [--rounds 4] [--seconds 3] [--clients 20] [--actors N]
                                  [--large-only [--no-gc]] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from typing import Any

import bastion
from bastion.console import serve

TARGET_MIN_RATIO = 0.90

CLIENTS = textwrap.dedent(
    """
    import asyncio, sys
    async def one(host, port, ready):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET /api/events HTTP/1.1\\r\\nHost: {host}\\r\\n\\r\\n".encode())
        await writer.drain()
        seen = False
        while True:
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"data: ") and not seen:
                seen = True
                ready.append(1)
    async def main():
        host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        ready = []
        tasks = [asyncio.create_task(one(host, port, ready)) for _ in range(n)]
        while len(ready) < n:
            await asyncio.sleep(0.05)
        print("connected", flush=True)
        await asyncio.gather(*tasks)
    asyncio.run(main())
    """
)


class Echo(bastion.Actor):
    """Answers after a little CPU work (a stand-in for a handler's real work)."""

    def handle_call(self, message: int) -> int:
        return sum(range(message))


async def _caller(ref: bastion.ActorRef, stop_at: float, counts: list[int]) -> None:
    done = 0
    while time.perf_counter() < stop_at:
        await ref.call(200, timeout=5.0)
        done += 1
    counts.append(done)


@dataclass(frozen=True)
class Round:
    """One round: calls per wall second, and CPU seconds of this process per call."""

    rate: float
    cpu_per_call: float


async def _load(rt: bastion.Runtime, refs: list[bastion.ActorRef], seconds: float) -> Round:
    counts: list[int] = []
    stop_at = time.perf_counter() + seconds
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(_caller(ref, stop_at, counts) for ref in refs))
    calls = sum(counts)
    return Round(calls / (time.perf_counter() - started), (time.process_time() - cpu) / calls)


async def _with_console(rt: bastion.Runtime, refs: list[bastion.ActorRef], seconds: float,
                        clients: int) -> Round:  # fmt: skip
    server = await serve(rt, port=0)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENTS, server.host, str(server.port), str(clients),
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60.0)
        assert line.strip() == b"connected", line
        return await _load(rt, refs, seconds)
    finally:
        proc.kill()
        await asyncio.wait_for(proc.wait(), timeout=10.0)
        await server.stop()


async def _longest_turn(work: Any) -> tuple[Any, float]:
    """Run ``work`` while a ticker measures the longest gap between its turns of the loop
    (what any actor on the loop may have waited for while ``work`` ran)."""
    gaps = [0.0]
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        return await work, max(gaps)
    finally:
        done.set()
        await task


def _ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


async def _large_node(actors: int) -> dict[str, Any]:
    """One sample and one page of /api/actors on a node of ``actors`` idle actors: the
    work (ms), the turns of the loop it was spread over and the longest loop turn."""
    import httpx

    from bastion.console import console_app

    rt = bastion.current_runtime()
    pool = await rt.start_dynamic_supervisor(name="large", max_children=actors + 1)
    for n in range(actors):
        await pool.start_child(bastion.ChildSpec(f"w{n}", Echo))
    app = console_app(rt)
    sampler = app.sampler
    work: list[float] = []
    walls: list[float] = []
    turns: list[float] = []
    slices: list[int] = []
    longest: list[float] = []
    pages: list[float] = []
    first: dict[str, float] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        for n in range(8):
            sampler.cost = 0.0  # take one now, whatever the last one cost
            started = time.perf_counter()
            _, turn = await _longest_turn(sampler.current(max_age=0.0))
            wall = time.perf_counter() - started
            if n == 0:  # it also lists the supervisor's 10,000 children and rates health
                first = {"wall": wall, "turn": turn}
            else:
                walls.append(wall)
                work.append(sampler.cost)
                turns.append(turn)
                slices.append(getattr(sampler, "slices", 1))
                longest.append(getattr(sampler, "longest_slice", sampler.cost))
            started = time.perf_counter()
            response = await http.get("/api/actors", params={"limit": 50}, timeout=30.0)
            pages.append(time.perf_counter() - started)
            assert response.status_code == 200
    await pool.stop(timeout=60.0)
    return {
        "large_node_actors": actors,
        "large_node_first_sample_wall_ms": round(first["wall"] * 1000, 1),
        "large_node_first_sample_longest_loop_turn_ms": round(first["turn"] * 1000, 1),
        "large_node_sample_work_ms": _ms(work),
        "large_node_sample_wall_ms": _ms(walls),
        "large_node_sample_slices": statistics.median(slices),
        "large_node_longest_slice_ms": _ms(longest),
        "large_node_longest_loop_turn_ms": _ms(turns),
        "large_node_longest_loop_turn_ms_max": round(max(turns) * 1000, 1),
        "large_node_actors_page_ms": _ms(pages),
    }


async def large_only(actors: int, no_gc: bool = False) -> dict[str, Any]:
    """Only the large-node check (``--large-only``); ``--no-gc`` turns the cyclic garbage
    collector off meanwhile, to tell the console's own turns from the collector's passes
    (a full pass over a heap of 10,000 actors takes 100-200 ms, whoever allocated)."""
    import gc

    if no_gc:
        gc.collect()
        gc.disable()
    try:
        return {"gc": not no_gc, **(await _large_node(actors))}
    finally:
        gc.enable()


async def main(rounds: int, seconds: float, clients: int, actors: int) -> dict[str, Any]:
    rt = bastion.current_runtime()
    refs = [await rt.spawn(Echo) for _ in range(8)]
    await _load(rt, refs, 1.0)  # warm up
    a: list[Round] = []
    b: list[Round] = []
    for _ in range(rounds):
        a.append(await _load(rt, refs, seconds))
        b.append(await _with_console(rt, refs, seconds, clients))
    # CPU per call counts only this process's CPU, so other processes on a shared machine
    # do not move it; the wall-clock throughput ratio is reported beside it.
    cpu_ratio = statistics.median(x.cpu_per_call for x in a) / statistics.median(
        x.cpu_per_call for x in b
    )
    wall_ratio = statistics.median(x.rate for x in b) / statistics.median(x.rate for x in a)
    return {
        "rounds": rounds,
        "seconds_per_round": seconds,
        "sse_clients": clients,
        "calls_per_second_without_console": [round(x.rate) for x in a],
        "calls_per_second_with_console": [round(x.rate) for x in b],
        "cpu_us_per_call_without_console": [round(x.cpu_per_call * 1e6, 2) for x in a],
        "cpu_us_per_call_with_console": [round(x.cpu_per_call * 1e6, 2) for x in b],
        "throughput_ratio_cpu": round(cpu_ratio, 3),
        "throughput_ratio_wall": round(wall_ratio, 3),
        "console_cost_percent": round((1 - cpu_ratio) * 100, 1),
        "target_min_ratio": TARGET_MIN_RATIO,
        "met": cpu_ratio >= TARGET_MIN_RATIO,
        **(await _large_node(actors) if actors else {}),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--actors", type=int, default=10_000, help="large-node check (0: skip)")
    parser.add_argument("--large-only", action="store_true", help="only the large-node check")
    parser.add_argument("--no-gc", action="store_true", help="large-node check without the GC")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.large_only:
        result = bastion.run(lambda: large_only(args.actors, args.no_gc))
    else:
        result = bastion.run(lambda: main(args.rounds, args.seconds, args.clients, args.actors))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in (result or {}).items():
            print(f"{key:36} {value}")
