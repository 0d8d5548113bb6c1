"""Rollout benchmark R1-R12 (docs/performance.md#rollout), seeded, on the real machine.

Every rollout runs through :class:`bastion.rollout.RolloutMachine` fed per-tick counts
drawn from a synthetic workload (``bench/_rollout_sim.py``): total traffic ``rate``
calls/s, 1 % baseline errors, 5 % slow calls, background restarts once an hour; faults
change the canary's rates. Plans are the default (1/5/25/50/100 %, alpha 0.01, 400
canary calls and 300 s per phase at least) fitted to the traffic as the preflight
report proposes. Ticks: 1 s at 200/s, 5 s at 20/s, 30 s at 2/s.

    python bench/bench_rollout.py [--quick]     # full: 10,000 healthy rollouts per rate
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rollout_sim import (
    BASE_ERRORS,
    Outcome,
    StaticGate,
    Workload,
    run_per_event,
    run_rollout,
)
from bastion.rollout import CohortCounts, RolloutMachine, RolloutPlan, TickCounts

RATES = {200.0: 1.0, 20.0: 5.0, 2.0: 30.0}  # calls/s -> tick (s)
SIGMA_05, SIGMA_10 = 0.2018, 0.1076  # canary slow share when latency x1.5 (lognormal)
WINDOW = 600.0  # seconds: "the first 10 minutes of a deployment"


def plan_for(rate: float, *, quiet: bool = False) -> RolloutPlan:
    """The default plan fitted to ``rate`` (``quiet``: the tests never alarm, so it only
    schedules phases for a static gate)."""
    alpha = 1e-300 if quiet else 0.01
    return RolloutPlan(flag="bench", alpha=alpha, tick=RATES[rate]).fitted_to(rate)


def _batch(args: tuple[str, float, dict[str, Any], int, int]) -> list[dict[str, Any]]:
    kind, rate, fault, first, count = args
    work = Workload(rate, RATES[rate], **fault)
    rows = []
    for seed in range(first, first + count):
        if kind == "sprt":
            out = run_rollout(plan_for(rate), work, seed)
        else:
            gate = StaticGate(float(kind.removeprefix("static")))
            out = run_rollout(plan_for(rate, quiet=True), work, seed, gate)
        rows.append(_row(out))
    return rows


def _row(out: Outcome) -> dict[str, Any]:
    complete = all(len(e.evidence) == 5 for e in out.entries)
    return {
        "rolled_back": out.rolled_back,
        "reason": out.reason,
        "seconds": out.seconds_since_fault,
        "calls": out.canary_calls_since_fault,
        "breach_lag": (out.at - out.breach_at) if out.breach_at is not None else None,
        "evidence_complete": complete,
        "entries": len(out.entries),
    }


def scenario(pool: ProcessPoolExecutor, kind: str, rate: float, runs: int, **fault: Any) -> dict:
    """``runs`` seeded rollouts of one scenario, split over the pool."""
    chunk = max(1, math.ceil(runs / 16))
    jobs = [(kind, rate, fault, s, min(chunk, runs - s)) for s in range(0, runs, chunk)]
    started = time.perf_counter()
    rows = [row for part in pool.map(_batch, jobs) for row in part]
    hits = [r for r in rows if r["rolled_back"]]
    calls = [r["calls"] for r in hits]
    secs = [r["seconds"] for r in hits]
    summary = {
        "runs": runs,
        "rollback_rate": len(hits) / runs,
        "reasons": dict(Counter(r["reason"] for r in hits)),
        "calls_p50": _pct(calls, 50),
        "calls_p95": _pct(calls, 95),
        "seconds_p50": _pct(secs, 50),
        "seconds_p95": _pct(secs, 95),
        "breach_lag_max": max(
            (r["breach_lag"] for r in hits if r["breach_lag"] is not None), default=None
        ),
        "evidence_complete": all(r["evidence_complete"] for r in rows),
        "decisions": sum(r["entries"] for r in rows),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    print(
        json.dumps({"scenario": f"{kind} {rate:g}/s {fault}", **summary}),
        file=sys.stderr,
        flush=True,
    )
    return summary


def _pct(values: list[float], q: float) -> float | None:
    values = [v for v in values if not math.isnan(v)]
    return round(float(np.percentile(values, q)), 3) if values else None


def no_canary_traffic() -> dict[str, Any]:
    """R7: the canary gets no calls at all; when is it INCONCLUSIVE, when rolled back?"""
    plan = plan_for(200.0)
    out = run_rollout(plan, Workload(200.0, 1.0, no_canary=True), 7)
    marks = {e.action: e.at for e in out.entries}
    return {
        "dwell": plan.dwell(0),
        "inconclusive_at": marks.get("inconclusive"),
        "rolled_back_at": marks.get("rollback"),
        "reason": out.reason,
    }


def manual_rollback_every_state() -> dict[str, float]:
    """R8 on the machine: exposure after a manual rollback from each state."""
    result = {}
    for state in ("running", "paused", "inconclusive", "phase_100", "promoted"):
        plan = RolloutPlan(flag="bench", min_dwell=10.0, min_canary_calls=10)
        machine = RolloutMachine(plan)
        machine.start(0.0, "bench")
        if state == "paused":
            machine.pause(0.0, "bench", "look")
        elif state == "inconclusive":
            machine.tick(TickCounts(25.0))
        elif state in ("phase_100", "promoted"):
            for now in range(1, 60):
                machine.tick(TickCounts(float(now), CohortCounts(50), CohortCounts(50)))
                if machine.state.phase == 4 and state == "phase_100":
                    break
        before = machine.state.status
        machine.rollback(100.0, "oncall", "emergency")
        result[f"{state} ({before})"] = machine.percent
    return result


def manual_rollback_wall(repeats: int = 20) -> dict[str, float]:
    """R8 on the real orchestrator and a SQLite store: wall seconds from the rollback
    request until the flag evaluates to the baseline (median and worst of ``repeats``)."""
    import asyncio
    import tempfile

    import bastion
    from bastion.agents import act
    from bastion.flags import Flag, Flags
    from bastion.persistence import SQLiteStore
    from bastion.rollout import RolloutOrchestrator, orchestrator_name

    async def once(db: Path) -> float:
        async with await SQLiteStore.open(db) as store, bastion.open_runtime() as rt:
            flags = await Flags.open(store, clock=rt.clock.now)
            await flags.define(Flag.boolean("f"), actor="bench", reason="r8")
            ref = await rt.spawn(
                RolloutOrchestrator,
                name=orchestrator_name("f"),
                store=store,
                flags=flags,
                plan=RolloutPlan(flag="f"),
            )
            await act(ref, "start", actor="bench", preflight=False)
            await act(ref, "promote", actor="bench", reason="r8", force=True)
            key = next(
                k
                for k in (f"u{i}" for i in range(10_000))
                if flags.evaluate("f", k, cohort=False).variant == "on"
            )
            started = time.perf_counter()
            await act(ref, "rollback", actor="bench", reason="r8")
            assert flags.evaluate("f", key, cohort=False).variant == "off"
            elapsed = time.perf_counter() - started
            await ref.stop()
            return elapsed

    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            samples.append(asyncio.run(once(Path(tmp) / f"r{i}.db")))
    return {"median_s": float(np.median(samples)), "max_s": max(samples)}


def tick_cost(rate: float, ticks: int = 3000) -> dict[str, float]:
    """R12: seconds per tick of the machine and per call the tick summarises."""
    plan = RolloutPlan(flag="bench", min_dwell=1e9)
    machine = RolloutMachine(plan)
    machine.start(0.0, "bench")
    rng = np.random.default_rng(5)
    nc = rng.poisson(rate * 0.05, ticks).tolist()
    nb = rng.poisson(rate * 0.95, ticks).tolist()
    feed = [
        TickCounts(
            float(i + 1), CohortCounts(nc[i], nc[i] // 100), CohortCounts(nb[i], nb[i] // 100)
        )
        for i in range(ticks)
    ]
    best = math.inf
    for _ in range(5):
        machine = RolloutMachine(plan)
        machine.start(0.0, "bench")
        started = time.perf_counter()
        for counts in feed:
            machine.tick(counts)
        best = min(best, time.perf_counter() - started)
    per_tick = best / ticks
    return {"us_per_tick": per_tick * 1e6, "ns_per_call": per_tick / rate * 1e9}


def per_event_agreement(runs: int) -> dict[str, Any]:
    """The same streams fed per tick and per event: same outcome in the same phase?"""
    same, same_signal, total, diffs = 0, 0, 0, []
    for fault in ({}, {"canary_errors": 0.05}, {"canary_errors": 0.5}):
        work = Workload(20.0, 5.0, **fault)
        plan = plan_for(20.0)
        for seed in range(runs):
            a, b = run_rollout(plan, work, seed), run_per_event(plan, work, seed)
            total += 1
            agree = (a.status, a.phase) == (b.status, b.phase)
            same += agree
            same_signal += agree and a.reason.split()[0] == b.reason.split()[0]
            if not agree and len(diffs) < 5:
                diffs.append(
                    f"{fault or 'healthy'} seed {seed}: {a.status} in phase "
                    f"{a.phase} vs {b.status} in phase {b.phase}"
                )
    return {
        "runs": total,
        "same_outcome_and_phase": same / total,
        "same_signal_too": same_signal / total,
        "examples": diffs,
    }


def excess_error_rate(runs: int) -> dict[str, Any]:
    """The seed's "< 1 % error rate": of every call made from the start of a rollout of
    a bad version until its automatic rollback, the share that failed *because of* it
    (canary errors above the 1 % every call has anyway), p95 over ``runs`` rollouts."""
    result = {}
    for rate in (200.0, 20.0):
        for name, errors in (("crash 50%", 0.5), ("5x", 0.05), ("2x", 0.02)):
            shares, per_window = [], []
            for seed in range(runs):
                out = run_rollout(plan_for(rate), Workload(rate, RATES[rate], errors), seed)
                if out.rolled_back and out.calls:
                    expected = BASE_ERRORS * out.canary_calls_since_fault
                    excess = max(0.0, out.canary_errors - expected)
                    shares.append(100.0 * excess / out.calls)
                    window = rate * max(WINDOW, out.at)  # the calls of the deployment's window
                    per_window.append(100.0 * excess / window)
            result[f"{name} {rate:g}/s"] = {
                "until_rollback_p50_percent": _pct(shares, 50),
                "until_rollback_p95_percent": _pct(shares, 95),
                "first_10_min_p95_percent": _pct(per_window, 95),
            }
    return result


def run(quick: bool = False) -> dict[str, Any]:
    """The whole table; ``quick`` runs 1/50 of the rollouts."""
    started = time.perf_counter()
    healthy = 200 if quick else 10_000  # per traffic level
    faulty = 100 if quick else 300
    result: dict[str, Any] = {}
    workers = int(os.environ.get("BENCH_WORKERS", min(2, os.cpu_count() or 1)))
    with ProcessPoolExecutor(workers) as pool:
        for rate in RATES:
            key = f"{rate:g}/s"
            result[f"R1 healthy {key}"] = scenario(pool, "sprt", rate, healthy)
            result[f"R2 crash 50% {key}"] = scenario(pool, "sprt", rate, faulty, canary_errors=0.5)
            result[f"R3 5x {key}"] = scenario(pool, "sprt", rate, faulty, canary_errors=0.05)
            result[f"R6 latency s0.5 {key}"] = scenario(
                pool, "sprt", rate, faulty // 2, canary_slow=SIGMA_05
            )
            result[f"R6 latency s1.0 {key}"] = scenario(
                pool, "sprt", rate, faulty // 2, canary_slow=SIGMA_10
            )
            for minimum in ("99", "97"):
                result[f"R11 static min {minimum} healthy {key}"] = scenario(
                    pool, f"static{minimum}", rate, faulty
                )
        for rate in (200.0, 20.0):
            key = f"{rate:g}/s"
            result[f"R4 2x {key}"] = scenario(pool, "sprt", rate, faulty // 2, canary_errors=0.02)
            for minimum in ("99", "97"):
                result[f"R11 static min {minimum} 2x {key}"] = scenario(
                    pool, f"static{minimum}", rate, faulty // 2, canary_errors=0.02
                )
        result["R3 5x at phase 3 200/s"] = scenario(
            pool, "sprt", 200.0, faulty, canary_errors=0.05, fault_phase=2
        )
        result["R5 restart storm 200/s"] = scenario(
            pool, "sprt", 200.0, faulty, storm_per_s=0.5, fault_phase=1
        )
    result["R7 no canary traffic"] = no_canary_traffic()
    result["R8 manual rollback exposure"] = manual_rollback_every_state()
    result["R8 manual rollback wall"] = manual_rollback_wall(5 if quick else 20)
    result["R12 cost"] = {f"{r:g}/s": tick_cost(r) for r in RATES}
    result["per-event vs per-tick"] = per_event_agreement(10 if quick else 50)
    result["excess error rate"] = excess_error_rate(20 if quick else 200)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    return {"rollout": result}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, sort_keys=True, default=str))
