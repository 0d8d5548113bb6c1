"""Kernel benchmarks: call round trip, cast throughput, restart latency, actor footprint.

Every figure sits next to a baseline measured in the same run (DESIGN §7):

* ``call_rtt_us`` against a raw asyncio Future ping-pong under ``asyncio.timeout``
  (a server task reads ``(payload, future)`` from a queue and sets the result), and,
  for context, the same ping-pong with no deadline at all (``*_bare``);
* ``cast_msgs_per_s`` against a raw bounded ``asyncio.Queue`` with an awaited ``put``
  (same capacity as the default mailbox);
* ``call_rtt_us`` against Pykka ``ActorRef.ask(msg, timeout=5)`` when Pykka is installed.

Method: each round trip is timed on its own with ``perf_counter`` (warmup excluded);
each measurement is repeated ``REPS`` times alternating kernel and baseline, the
headline is the median of the per-repetition medians and the worst p99. Cast throughput
is N casts then one call as a flush. Restart latency is the time from a cast that makes
a supervised child raise to the restarted child answering a call through
``supervisor.child(id)``. Bytes per actor is the ``tracemalloc`` delta over spawning N
idle actors, divided by N; spawn rate is N sequential ``spawn`` calls.

    python bench/run.py --only kernel [--quick] [--json]
    python bench/bench_kernel.py [--quick]        # this module alone
    python bench/bench_kernel.py --spawn-only     # spawn/s with and without on_start, agents
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bastion
from _echo import Echo, Idle
from _stats import summary_us

pc = time.perf_counter
REPS = 3

#: The issue's targets (see docs/performance.md, "Kernel").
TARGETS = {
    "call_rtt_vs_asyncio_max": 1.5,
    "call_rtt_vs_asyncio_hard_max": 2.0,
    "call_rtt_vs_pykka_max": 0.5,
    "cast_vs_asyncio_queue_min": 0.5,
    "restart_p99_us_max": 1000.0,
    "bytes_per_actor_max": 3072,
    "spawn_per_s_min": 50_000,
}


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    rtt_iters: int
    rtt_warmup: int
    pykka_iters: int
    casts: int
    restarts: int
    actors: int
    footprint_actors: int


FULL = Sizes(20_000, 2_000, 20_000, 200_000, 2_000, 100_000, 100_000)
QUICK = Sizes(5_000, 1_000, 3_000, 50_000, 300, 20_000, 20_000)


# -- actors under test --------------------------------------------------------------------
class Crashy(bastion.Actor):
    """Answers calls; a cast makes it crash."""

    def handle_call(self, message: Any) -> Any:
        return message

    def handle_cast(self, message: Any) -> None:
        raise RuntimeError("crash requested by the benchmark")


# -- helpers ------------------------------------------------------------------------------
def _combine(reps: list[dict[str, float]]) -> dict[str, Any]:
    """Median of per-repetition medians, worst p99, and the per-repetition figures."""
    return {
        "median": round(statistics.median(r["median"] for r in reps), 3),
        "p99": round(max(r["p99"] for r in reps), 3),
        "reps": reps,
    }


def _run(coro_fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    gc.collect()
    return asyncio.run(coro_fn())


# -- call round trip --------------------------------------------------------------------------
async def _asyncio_rtt(iters: int, warmup: int, deadline: bool = True) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, asyncio.Future[int]] | None] = asyncio.Queue()

    async def server() -> None:
        while (item := await queue.get()) is not None:
            payload, future = item
            future.set_result(payload)

    task = asyncio.create_task(server())
    samples = []
    for i in range(warmup + iters):
        t0 = pc()
        future: asyncio.Future[int] = loop.create_future()
        queue.put_nowait((i, future))
        if deadline:
            async with asyncio.timeout(5.0):
                reply = await future
        else:
            reply = await future
        t1 = pc()
        assert reply == i
        if i >= warmup:
            samples.append(t1 - t0)
    queue.put_nowait(None)
    await task
    return summary_us(samples)


async def _kernel_rtt(iters: int, warmup: int) -> dict[str, float]:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        samples = []
        for i in range(warmup + iters):
            t0 = pc()
            reply = await ref.call(i, timeout=5.0)
            t1 = pc()
            assert reply == i
            if i >= warmup:
                samples.append(t1 - t0)
    return summary_us(samples)


def _pykka_rtt(iters: int, warmup: int) -> dict[str, float] | None:
    try:
        import pykka
    except ImportError:
        return None

    class PykkaEcho(pykka.ThreadingActor):  # type: ignore[misc]
        def on_receive(self, message: Any) -> Any:
            return message

    ref = PykkaEcho.start()
    try:
        samples = []
        for i in range(warmup + iters):
            t0 = pc()
            reply = ref.ask(i, timeout=5)
            t1 = pc()
            assert reply == i
            if i >= warmup:
                samples.append(t1 - t0)
    finally:
        ref.stop(timeout=5)
    return summary_us(samples)


def bench_call_rtt(sizes: Sizes) -> dict[str, Any]:
    """Kernel call RTT, raw asyncio RTT and Pykka ask RTT, alternating repetitions."""
    kernel, raw, bare, pykka_reps = [], [], [], []
    for _ in range(REPS):
        raw.append(_run(lambda: _asyncio_rtt(sizes.rtt_iters, sizes.rtt_warmup)))
        bare.append(_run(lambda: _asyncio_rtt(sizes.rtt_iters, sizes.rtt_warmup, False)))
        kernel.append(_run(lambda: _kernel_rtt(sizes.rtt_iters, sizes.rtt_warmup)))
        gc.collect()
        rep = _pykka_rtt(sizes.pykka_iters, sizes.rtt_warmup)
        if rep is not None:
            pykka_reps.append(rep)
    return {
        "kernel": _combine(kernel),
        "asyncio": _combine(raw),
        "asyncio_bare": _combine(bare),
        "pykka": _combine(pykka_reps) if pykka_reps else None,
    }


# -- cast throughput --------------------------------------------------------------------------
async def _asyncio_queue_rate(n: int, capacity: int) -> float:
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=capacity)

    async def consumer() -> int:
        count = 0
        while await queue.get() is not None:
            count += 1
        return count

    task = asyncio.create_task(consumer())
    await asyncio.sleep(0)
    t0 = pc()
    for i in range(n):
        await queue.put(i)
    await queue.put(None)
    count = await task
    elapsed = pc() - t0
    assert count == n
    return n / elapsed


async def _kernel_cast_rate(n: int) -> float:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Echo)
        t0 = pc()
        for i in range(n):
            await ref.cast(i)
        count = await ref.call("flush", timeout=60.0)
        elapsed = pc() - t0
        assert count == n
    return n / elapsed


def bench_cast(sizes: Sizes) -> dict[str, Any]:
    """Kernel ``await cast`` throughput against a bounded ``asyncio.Queue``."""
    capacity = 1000  # the kernel's default mailbox capacity
    kernel, raw = [], []
    for _ in range(REPS):
        raw.append(_run(lambda: _asyncio_queue_rate(sizes.casts, capacity)))
        kernel.append(_run(lambda: _kernel_cast_rate(sizes.casts)))
    return {
        "kernel": round(statistics.median(kernel)),
        "asyncio": round(statistics.median(raw)),
        "kernel_reps": [round(x) for x in kernel],
        "asyncio_reps": [round(x) for x in raw],
    }


# -- restart latency --------------------------------------------------------------------------
async def _restart_samples(n: int, warmup: int) -> list[float]:
    async with bastion.open_runtime() as rt:
        spec = bastion.ChildSpec(id="crashy", actor=Crashy, name="crashy")
        intensity = bastion.RestartIntensity(10 * (n + warmup), 60.0)
        sup = await rt.start_supervisor([spec], intensity=intensity)
        child = sup.child("crashy")
        samples = []
        for i in range(warmup + n):
            t0 = pc()
            await child.cast("crash")
            while True:
                try:
                    await child.call("ping", timeout=5.0)
                    break
                except (bastion.ActorNotAlive, bastion.ActorCrashed):
                    await asyncio.sleep(0)  # let the supervisor run its restart
            t1 = pc()
            if i >= warmup:
                samples.append(t1 - t0)
        await sup.stop()
    return samples


def bench_restart(sizes: Sizes) -> dict[str, Any]:
    """Crash-to-answering latency of a supervised one-for-one child."""
    logger = logging.getLogger("bastion")
    saved = (logger.handlers[:], logger.propagate)
    # Crashes are logged with a traceback; keep records (their cost is real) but not I/O.
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False
    try:
        samples = _run(lambda: _restart_samples(sizes.restarts, max(50, sizes.restarts // 10)))
    finally:
        logger.handlers[:], logger.propagate = saved
    return summary_us(samples)


# -- spawn rate and footprint -----------------------------------------------------------------
async def _spawn_rate(n: int) -> float:
    async with bastion.open_runtime() as rt:
        t0 = pc()
        for _ in range(n):
            await rt.spawn(Idle)
        elapsed = pc() - t0
        assert len(rt.actors()) == n
    return n / elapsed


async def _footprint(n: int) -> float:
    async with bastion.open_runtime() as rt:
        await rt.spawn(Idle)  # first-use allocations are not per-actor
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(n):
                await rt.spawn(Idle)
            await rt.wait_idle(timeout=60.0)
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    return (after - before) / n


class _PlainStart(bastion.Actor):
    """An actor whose ``on_start`` is a plain method."""

    def on_start(self) -> None:
        self.ready = True


class _AsyncStart(bastion.Actor):
    """An actor whose ``on_start`` is ``async`` and does not wait."""

    async def on_start(self) -> None:
        self.ready = True


def _spawn_kinds() -> dict[str, tuple[type[bastion.Actor], dict[str, Any]]]:
    from bastion.agents import Agent, PersistentAgent
    from bastion.persistence import MemoryStore

    class SetupAgent(Agent):
        """An agent whose ``on_start`` runs a ``setup`` of its own."""

        ready: bool = False

        async def setup(self) -> None:
            self.ready = True

    class Counted(PersistentAgent):
        """A persistent agent with one saved field (restored at each spawn)."""

        persistent_fields = ("count",)
        count: int = 0

    store = MemoryStore()
    return {
        "actor": (Idle, {}),
        "actor_plain_on_start": (_PlainStart, {}),
        "actor_async_on_start": (_AsyncStart, {}),
        "agent": (SetupAgent, {}),
        "persistent_agent_memory_store": (Counted, {"store": store}),
    }


async def _spawn_kind_rate(cls: type[bastion.Actor], kwargs: dict[str, Any], n: int) -> float:
    named = "store" in kwargs  # a persistent agent is keyed by its name
    async with bastion.open_runtime() as rt:
        await rt.spawn(cls, **kwargs, **({"name": "warm"} if named else {}))
        t0 = pc()
        for i in range(n):
            if named:
                await rt.spawn(cls, **kwargs, name=f"p{i}")
            else:
                await rt.spawn(cls, **kwargs)
        return n / (pc() - t0)


def bench_spawn_kinds(sizes: Sizes) -> dict[str, Any]:
    """Sequential spawn rate of actors with and without ``on_start`` and of agents.

    Interleaved: each round spawns ``sizes.actors // 4`` of every kind in turn, in a
    fresh runtime each; the figure is the median of the rounds and the ratio is to
    plain actors of the same rounds (issue 15's target: agents ≥ 50k/s).
    """
    kinds = _spawn_kinds()
    n = max(1000, sizes.actors // 4)
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(REPS):
        for kind, (cls, kwargs) in kinds.items():
            rates[kind].append(_run(lambda c=cls, k=kwargs: _spawn_kind_rate(c, k, n)))
    medians = {kind: statistics.median(values) for kind, values in rates.items()}
    return {
        "per_s": {kind: round(rate) for kind, rate in medians.items()},
        "vs_actor": {kind: _ratio(rate, medians["actor"]) for kind, rate in medians.items()},
        "rounds": {kind: [round(r) for r in values] for kind, values in rates.items()},
    }


def bench_actors(sizes: Sizes) -> dict[str, Any]:
    """Sequential spawn rate and tracemalloc bytes per idle actor."""
    return {
        "spawn_per_s": round(_run(lambda: _spawn_rate(sizes.actors))),
        "bytes_per_actor": round(_run(lambda: _footprint(sizes.footprint_actors))),
    }


# -- entry point ----------------------------------------------------------------------------
def _ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def run(quick: bool) -> dict[str, Any]:
    """Run every kernel benchmark; return figures, ratios and targets met."""
    sizes = QUICK if quick else FULL
    rtt = bench_call_rtt(sizes)
    cast = bench_cast(sizes)
    restart = bench_restart(sizes)
    actors = bench_actors(sizes)
    spawn_kinds = bench_spawn_kinds(sizes)
    ratios: dict[str, float] = {
        "call_rtt_vs_asyncio": _ratio(rtt["kernel"]["median"], rtt["asyncio"]["median"]),
        "cast_vs_asyncio_queue": _ratio(cast["kernel"], cast["asyncio"]),
        "call_rtt_vs_asyncio_bare": _ratio(rtt["kernel"]["median"], rtt["asyncio_bare"]["median"]),
    }
    if rtt["pykka"] is not None:
        ratios["call_rtt_vs_pykka"] = _ratio(rtt["kernel"]["median"], rtt["pykka"]["median"])
    targets = {
        "call_rtt_le_1_5x_asyncio": ratios["call_rtt_vs_asyncio"]
        <= TARGETS["call_rtt_vs_asyncio_max"],
        "call_rtt_le_2x_asyncio": ratios["call_rtt_vs_asyncio"]
        <= TARGETS["call_rtt_vs_asyncio_hard_max"],
        "cast_ge_0_5x_asyncio_queue": ratios["cast_vs_asyncio_queue"]
        >= TARGETS["cast_vs_asyncio_queue_min"],
        "restart_p99_le_1ms": restart["p99"] <= TARGETS["restart_p99_us_max"],
        "bytes_per_actor_le_3kb": actors["bytes_per_actor"] <= TARGETS["bytes_per_actor_max"],
        "spawn_ge_50k_per_s": actors["spawn_per_s"] >= TARGETS["spawn_per_s_min"],
        "agent_spawn_ge_50k_per_s": spawn_kinds["per_s"]["agent"] >= TARGETS["spawn_per_s_min"],
    }
    if "call_rtt_vs_pykka" in ratios:
        targets["call_rtt_2x_faster_than_pykka"] = (
            ratios["call_rtt_vs_pykka"] <= TARGETS["call_rtt_vs_pykka_max"]
        )
    return {
        "call_rtt_us": {"median": rtt["kernel"]["median"], "p99": rtt["kernel"]["p99"]},
        "cast_msgs_per_s": cast["kernel"],
        "restart_us": restart,
        "bytes_per_actor": actors["bytes_per_actor"],
        "spawn_per_s": actors["spawn_per_s"],
        "spawn_kinds": spawn_kinds,
        "kernel_baselines": {
            "asyncio_call_rtt_us": {k: rtt["asyncio"][k] for k in ("median", "p99")},
            "asyncio_bare_call_rtt_us": {k: rtt["asyncio_bare"][k] for k in ("median", "p99")},
            "asyncio_bounded_queue_msgs_per_s": cast["asyncio"],
            "pykka_ask_rtt_us": (
                {k: rtt["pykka"][k] for k in ("median", "p99")} if rtt["pykka"] else None
            ),
        },
        "kernel_detail": {
            "sizes": sizes.__dict__,
            "call_rtt_reps": rtt,
            "cast_reps": cast,
        },
        "targets": targets,
        "ratios": ratios,
    }


if __name__ == "__main__":
    if "--spawn-only" in sys.argv:  # the spawn rates by kind alone (issue 15, target 6)
        result = bench_spawn_kinds(QUICK if "--quick" in sys.argv else FULL)
    else:
        result = run(quick="--quick" in sys.argv)
    print(json.dumps(result, indent=2, sort_keys=True))
