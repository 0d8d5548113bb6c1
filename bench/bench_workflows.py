"""Durable workflows (issue 16): the same 3-step job as a Bastion ``@workflow`` (SQLite,
MemoryStore), as CoordinatorAgent workflows, as plain asyncio, with DBOS Transact
(PostgreSQL on 127.0.0.1 and SQLite) and with LangGraph (SQLite checkpointer,
``durability="sync"``) — in one run — and the resume time with 10,000 pending jobs.

fetch → transform → store, each step ~100 µs of CPU (``cpu``) or ~1 ms of awaited I/O
(``io``), 8 concurrent clients, every final value checked (``_wf_jobs.py``). Each
variant runs in a fresh process with a fresh store; each round runs every variant once,
in a shuffled order (the machine is shared: only same-round ratios count). DBOS and
LangGraph are skipped when not installed; DBOS-PostgreSQL when no server can be started
(``tests/_postgres.py``, fsync on; or ``$BASTION_BENCH_PG_DSN``).

Resume: a process stores 10,000 started jobs and is killed (``kill -9``); the time from
launching a new process to its first step execution is measured (interpreter start and
imports included).

    python bench/bench_workflows.py [--quick] [--rounds 3] [--n 2000] [--json]
    python bench/run.py --only workflows
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests._postgres: the throwaway server
sys.path.insert(0, str(HERE))

PG_ENV = "BASTION_BENCH_PG_DSN"
PEER_N = {"dbos-pg": 300, "dbos-sqlite": 200, "langgraph-sqlite": 500}
RATIOS = {
    "workflow_sqlite_vs_dbos_pg": ("workflow-sqlite", "dbos-pg"),
    "workflow_sqlite_vs_dbos_sqlite": ("workflow-sqlite", "dbos-sqlite"),
    "workflow_sqlite_vs_langgraph_sqlite": ("workflow-sqlite", "langgraph-sqlite"),
    "workflow_sqlite_vs_memory": ("workflow-sqlite", "workflow-memory"),
    "workflow_sqlite_vs_coordinator_sqlite": ("workflow-sqlite", "coordinator-sqlite"),
    "workflow_memory_vs_plain": ("workflow-memory", "plain"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # (a parent package of a dotted name is missing)
        return False


def _variants(pg: bool) -> list[str]:
    found = ["plain", "workflow-memory", "workflow-sqlite", "coordinator-sqlite"]
    if _installed("dbos"):
        found += ["dbos-sqlite"] + (["dbos-pg"] if pg else [])
    if _installed("langgraph.checkpoint.sqlite"):
        found.append("langgraph-sqlite")
    return found


async def _child(variant: str, kind: str, n: int, tmp: Path, dsn: str) -> float:
    import _wf_bastion
    import _wf_peers

    if variant == "plain":
        return await _wf_peers.run_plain(kind, n)
    if variant in ("workflow-memory", "workflow-sqlite", "coordinator-sqlite"):
        store = await _wf_bastion.open_store(variant.split("-")[1], tmp / "bastion.db")
        try:
            if variant.startswith("workflow"):
                return await _wf_bastion.run_workflow(kind, n, store)
            return await _wf_bastion.run_coordinator(kind, n, store)
        finally:
            await store.close()
    if variant == "dbos-sqlite":
        return await _wf_peers.run_dbos(kind, n, f"sqlite:///{tmp / 'dbos.sqlite'}")
    if variant == "dbos-pg":
        return await _wf_peers.run_dbos(kind, n, dsn)
    if variant == "langgraph-sqlite":
        return await _wf_peers.run_langgraph(kind, n, tmp / "langgraph.db")
    raise SystemExit(f"unknown variant {variant}")


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@contextlib.contextmanager
def _postgres_url() -> Iterator[str | None]:
    """``$BASTION_BENCH_PG_DSN``, else the URL of a throwaway server; None without one."""
    if (url := os.environ.get(PG_ENV)) is not None:
        yield url
        return
    from tests._postgres import local_server

    with local_server(durable=True) as server:  # fsync on, as in production
        yield None if server is None else server.url


def _measure(variant: str, kind: str, n: int, dsn: str) -> tuple[float, float]:
    """Jobs per second of ``variant`` in a fresh process with a fresh store, and the CPU
    time of that process per job in µs (all its threads; the DBOS/LangGraph variants'
    database servers and threads outside the process not included)."""
    with tempfile.TemporaryDirectory() as tmp:
        if variant == "dbos-pg":  # a fresh database on the shared server
            dsn = _fresh_pg_database(dsn)
        child = _spawn(variant, kind, str(n), tmp, dsn)
        out, _ = child.communicate(timeout=1800)
        if child.returncode != 0:
            raise SystemExit(f"{variant} {kind} failed ({child.returncode})")
        found = json.loads(out.strip().splitlines()[-1])
        return float(found["jobs_per_s"]), float(found["cpu_us_per_job"])


def _fresh_pg_database(dsn: str) -> str:
    import psycopg

    name = f"bench_{int(time.time() * 1000)}_{random.randrange(10**6)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return dsn.rsplit("/", 1)[0] + f"/{name}"


def _resume_seconds(pending: int) -> tuple[float, float]:
    """Launch → first step execution of a process resuming ``pending`` stored jobs, and
    store open → first step (the same without interpreter start and imports)."""
    with tempfile.TemporaryDirectory() as tmp:
        db, marker = Path(tmp) / "pending.db", Path(tmp) / "first-step"
        prepare = _spawn("resume-prepare", str(db), str(pending))
        assert prepare.stdout is not None
        line = prepare.stdout.readline()
        if not line.startswith("READY"):
            raise SystemExit(f"the resume preparation failed: {line!r}")
        prepare.send_signal(signal.SIGKILL)
        prepare.wait(timeout=60)
        launched = time.time()
        resume = _spawn("resume", str(db), str(marker))
        resume.communicate(timeout=300)
        first, opening = (float(v) for v in marker.read_text().split())
        return first - launched, first - opening


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def measure(
    rounds: int, n: int, kinds: tuple[str, ...], pending: int, only: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Interleaved rounds of every variant (or of ``only``); medians, ranges and
    same-round ratios; ``pending=0`` skips the resume measurement."""
    with _postgres_url() as dsn:
        variants = [v for v in _variants(dsn is not None) if not only or v in only]
        runs: dict[str, dict[str, list[float]]] = {k: {v: [] for v in variants} for k in kinds}
        cpu: dict[str, dict[str, list[float]]] = {k: {v: [] for v in variants} for k in kinds}
        for r in range(rounds):
            for kind in kinds:
                order = variants[:]
                random.Random(r * 7 + len(kind)).shuffle(order)
                for variant in order:
                    size = min(n, PEER_N.get(variant, n))
                    rate, cpu_us = _measure(variant, kind, size, dsn or "")
                    runs[kind][variant].append(rate)
                    cpu[kind][variant].append(cpu_us)
                    print(
                        f"round {r} {kind} {variant}: {rate:.1f} jobs/s, {cpu_us:.0f} µs CPU/job",
                        file=sys.stderr,
                    )
    resume = [_resume_seconds(pending) for _ in range(rounds if pending else 0)]
    result: dict[str, Any] = {"jobs_per_s": {}, "cpu_us_per_job": {}, "ratios": {}, "n": n}
    result["peer_n"] = PEER_N
    for kind, by_variant in runs.items():
        result["jobs_per_s"][kind] = {v: _summary(x) for v, x in by_variant.items()}
        result["cpu_us_per_job"][kind] = {v: _summary(x) for v, x in cpu[kind].items()}
        for label, (top, bottom) in RATIOS.items():
            if top in by_variant and bottom in by_variant:
                ratios = [a / b for a, b in zip(by_variant[top], by_variant[bottom], strict=True)]
                result["ratios"][f"{label}_{kind}"] = _summary(ratios)
    if not resume:
        return result
    result["resume_to_first_step_s"] = {
        "pending": pending,
        "from_launch": _summary([launch for launch, _ in resume]),
        "from_store_open": _summary([engine for _, engine in resume]),
    }
    return result


def run(quick: bool) -> dict[str, Any]:
    """For ``bench/run.py``."""
    rounds, n, pending = (1, 200, 1000) if quick else (3, 2000, 10_000)
    found = measure(rounds, n, ("cpu", "io"), pending)
    ratios = {f"workflows_{k}": v["median"] for k, v in found.pop("ratios").items()}
    return {"workflows": found, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--kinds", default="cpu,io")
    parser.add_argument("--variants", default="", help="comma-separated; default: all")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.child:
        _run_child(args.child)
        return
    if args.quick:
        args.rounds, args.n, args.pending = 1, 200, 1000
    only = tuple(v for v in args.variants.split(",") if v)
    result = measure(args.rounds, args.n, tuple(args.kinds.split(",")), args.pending, only)
    print(json.dumps(result, indent=None if args.json else 2, sort_keys=True))


def _run_child(argv: list[str]) -> None:
    import _wf_bastion

    if argv[0] == "resume-prepare":
        asyncio.run(_wf_bastion.prepare_pending(Path(argv[1]), int(argv[2])))
    elif argv[0] == "resume":
        asyncio.run(_wf_bastion.resume_to_first_step(Path(argv[1]), Path(argv[2])))
    else:
        variant, kind, n, tmp, dsn = argv
        began = time.process_time()
        rate = asyncio.run(_child(variant, kind, int(n), Path(tmp), dsn))
        cpu_us = (time.process_time() - began) / int(n) * 1e6
        print(json.dumps({"jobs_per_s": rate, "cpu_us_per_job": cpu_us}), flush=True)


if __name__ == "__main__":
    main()
