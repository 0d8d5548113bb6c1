"""A cross-node call through Bastion vs a bare Ray actor call, on a local Ray cluster.

Setup: ``ray.cluster_utils.Cluster`` with a head (the driver's node, no CPUs) and one
worker node; both targets live on the worker node, so every call crosses raylets:

* ``bastion``: ``await ref.call("ping", timeout=5)`` on ``_echo.Echo`` spawned with
  ``placement=bastion.ray.ray_placement(node_id=<worker>, soft=False)``: the local
  stand-in, Ray's actor call carrying msgspec JSON bytes, the host's Bastion runtime, the
  echo actor, and back;
* ``ray``: ``await actor.echo.remote("ping")`` on a bare async Ray actor that returns its
  argument (Ray serializes the string itself).

Method: chunks of ``CHUNK`` calls (each timed on its own) alternate between the two
(A/B/A/B, the first of each pair swapped every round), ``ROUNDS`` rounds. Headline:
the ratio of the medians over all calls; ``ratio_best_chunk`` compares the best chunk
medians (a chunk that lost the CPU to another process is slower, whichever it was).

    python bench/bench_ray.py [--quick]        # or: python bench/run.py --only ray
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _echo: importable on workers

import bastion

pc = time.perf_counter
CHUNK = 200


def _cluster() -> tuple[Any, str]:
    from ray.cluster_utils import Cluster

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    store = 80 * 1024 * 1024
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False, "object_store_memory": store},
    )
    worker = cluster.add_node(num_cpus=2, object_store_memory=store)
    ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
    cluster.wait_for_nodes()
    return cluster, worker.node_id


async def _chunk(call: Any) -> list[float]:
    samples = []
    for _ in range(CHUNK):
        start = pc()
        await call()
        samples.append(pc() - start)
    return samples


async def _measure(node_id: str, rounds: int) -> dict[str, Any]:
    import ray
    from _echo import Echo
    from bastion.ray import ray_placement, where

    @ray.remote(num_cpus=0)
    class BareEcho:
        async def echo(self, message: Any) -> Any:
            return message

    strategy = ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(node_id, soft=False)
    bare = BareEcho.options(scheduling_strategy=strategy).remote()
    placement = ray_placement(num_cpus=0, node_id=node_id, soft=False)
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        ref = await rt.spawn(Echo, placement=placement)
        assert (await where(ref)).node_id == node_id
        assert await bare.echo.remote("ping") == "ping"

        async def through_bastion() -> None:
            await ref.call("ping", timeout=5.0)

        async def bare_ray() -> None:
            await bare.echo.remote("ping")

        runs: dict[str, list[list[float]]] = {"bastion": [], "ray": []}
        for _ in range(2):  # warm-up: both paths' first calls
            await _chunk(through_bastion)
            await _chunk(bare_ray)
        for i in range(rounds):
            order = [("bastion", through_bastion), ("ray", bare_ray)]
            for name, call in order if i % 2 == 0 else order[::-1]:
                runs[name].append(await _chunk(call))
        await ref.stop()
    ray.kill(bare)
    return _summary(runs)


def _summary(runs: dict[str, list[list[float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"calls_each": sum(len(c) for c in runs["ray"])}
    best = {}
    for name, chunks in runs.items():
        flat = [s for c in chunks for s in c]
        out[f"{name}_median_us"] = round(statistics.median(flat) * 1e6, 1)
        best[name] = min(statistics.median(c) for c in chunks)
        out[f"{name}_best_chunk_us"] = round(best[name] * 1e6, 1)
    out["ratio_median"] = round(out["bastion_median_us"] / out["ray_median_us"], 3)
    out["ratio_best_chunk"] = round(best["bastion"] / best["ray"], 3)
    pairs = [
        statistics.median(b) / statistics.median(r)
        for b, r in zip(runs["bastion"], runs["ray"], strict=True)
    ]
    out["ratio_per_round_median"] = round(statistics.median(pairs), 3)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """Start a local cluster, measure, shut it down; ``{"ray": {...}, "ratios": {...}}``."""
    try:
        import ray
    except ImportError:
        return {"ray": {"skipped": "Ray is not installed (pip install 'bastion[ray]')"}}
    cluster, node_id = _cluster()
    try:
        result = asyncio.run(_measure(node_id, rounds=6 if quick else 20))
    finally:
        ray.shutdown()
        cluster.shutdown()
    return {"ray": result, "ratios": {"ray_cross_node_call_vs_bare_ray": result["ratio_median"]}}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, sort_keys=True))
