"""Scale-out benchmarks (issue 17): PostgreSQL against SQLite and a hand-written baseline.

One function per measurement, registered in :data:`MEASUREMENTS`; ``--only NAME`` (may be
repeated) runs some of them. Every measurement interleaves its subjects (write by write,
or round by round: A/B/C, then B/C/A, ...) in one run and reports medians and ratios
against baselines measured in that same run: absolute figures on a shared machine mean
little.

* ``pg_latency``: acknowledged-write latency of one writer (each write waits for its
  commit before the next is sent) — PostgresStore, a hand-written psycopg
  insert-per-write baseline (a transaction of two ``INSERT ... ON CONFLICT`` per write),
  and SQLiteStore on a local file; the three take turns write by write.
* ``pg_throughput``: closed-loop throughput — ``clients`` concurrent writers, each
  waiting for its acknowledgement before its next write; the baseline gives each
  client a connection of a pool of ``min(clients, 16)``.

Every subject writes the same thing per write: one record (a 200-byte state) and one
collection item (a 100-byte queue entry) of the writer's own namespace, as a TaskAgent
does when it accepts a task. PostgreSQL runs with ``synchronous_commit=off`` for the
batched mode (the store's default) and in the baseline alike; ``--commit on`` compares
both with ``on`` (the store's strict mode).

The server: ``BASTION_TEST_PG_DSN``, or a throwaway one started like the tests' fixture
(``tests/_postgres.py``) with the binaries found on the machine, but with ``fsync`` on
(the tests' server runs without it), so that strict commits pay for their flush.

    python bench/bench_scale.py                      # everything
    python bench/bench_scale.py --only pg_latency --quick
    python bench/run.py --only scale --json          # through the common runner
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests._postgres: the throwaway server
sys.path.insert(0, str(HERE))

from _scale_nodes import nodes_failover, nodes_throughput  # noqa: E402
from _stats import summary_us  # noqa: E402
from bastion.persistence import PostgresStore, Put, PutItem, SQLiteStore, StateStore  # noqa: E402

STATE = b"s" * 200
ENTRY = b"e" * 100
WriteFn = Callable[[str, int], Awaitable[None]]


@dataclass
class Context:
    """What every measurement gets: the server's DSN, sizes, a scratch directory."""

    dsn: str
    quick: bool
    commit: str
    scratch: Path
    rounds: int = 3
    notes: list[str] = field(default_factory=list)
    server_pid: int | None = None  # the throwaway server's postmaster (for its CPU time)

    def schema(self) -> str:
        """A fresh PostgreSQL schema name for one subject of one round."""
        return f"bench_{uuid.uuid4().hex[:10]}"


# -- subjects: each opens something that performs "one acknowledged write" -------------


@contextlib.asynccontextmanager
async def postgres_store(ctx: Context, clients: int) -> AsyncIterator[WriteFn]:
    """PostgresStore: group commits; ``sync=True`` when comparing strict commits."""
    sync = ctx.commit == "on"
    async with await PostgresStore.open(ctx.dsn, schema=ctx.schema(), op_timeout=60.0) as store:
        yield _store_writer(store, sync)


@contextlib.asynccontextmanager
async def sqlite_store(ctx: Context, clients: int) -> AsyncIterator[WriteFn]:
    """SQLiteStore (default loop writer) on a file in the scratch directory."""
    path = ctx.scratch / f"{uuid.uuid4().hex[:10]}.db"
    async with await SQLiteStore.open(path, op_timeout=60.0) as store:
        yield _store_writer(store, ctx.commit == "on")


def _store_writer(store: StateStore, sync: bool) -> WriteFn:
    async def write(ns: str, i: int) -> None:
        await store.write(
            [Put(ns, "state", STATE), PutItem(ns, "queue", f"{i:08d}", ENTRY, order=i)],
            sync=sync,
        )

    return write


@contextlib.asynccontextmanager
async def psycopg_baseline(ctx: Context, clients: int) -> AsyncIterator[WriteFn]:
    """Hand-written: one autocommit transaction of two upserts per write, no batching."""
    import psycopg
    from psycopg_pool import AsyncConnectionPool

    schema = ctx.schema()
    setup = [
        f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.records (ns text, key text, version bigint, data bytea,"
        " PRIMARY KEY (ns, key))",
        f"CREATE TABLE {schema}.items (ns text, coll text, item text, data bytea, ord bigint,"
        " PRIMARY KEY (ns, coll, item))",
    ]
    async with await psycopg.AsyncConnection.connect(ctx.dsn, autocommit=True) as admin:
        for statement in setup:
            await admin.execute(statement)
    put = (
        f"INSERT INTO {schema}.records VALUES (%s, 'state', 1, %s) ON CONFLICT (ns, key)"
        " DO UPDATE SET version = records.version + 1, data = excluded.data"
    )
    item = (
        f"INSERT INTO {schema}.items VALUES (%s, 'queue', %s, %s, %s) ON CONFLICT"
        " (ns, coll, item) DO UPDATE SET data = excluded.data"
    )

    async def configure(conn: Any) -> None:
        await conn.execute(f"SET synchronous_commit = {ctx.commit}")

    size = min(clients, 16)
    async with AsyncConnectionPool(
        ctx.dsn,
        min_size=size,
        max_size=size,
        kwargs={"autocommit": True},
        configure=configure,
        open=False,
        timeout=60.0,
    ) as pool:
        await pool.wait(timeout=60.0)

        async def write(ns: str, i: int) -> None:
            async with pool.connection() as conn, conn.transaction():
                await conn.execute(put, (ns, STATE))
                await conn.execute(item, (ns, f"{i:08d}", ENTRY, i))

        yield write


SUBJECTS: dict[str, Callable[[Context, int], contextlib.AbstractAsyncContextManager[WriteFn]]] = {
    "postgres_store": postgres_store,
    "psycopg_baseline": psycopg_baseline,
    "sqlite_store": sqlite_store,
}


def _rotations(names: list[str], rounds: int) -> Iterator[list[str]]:
    for r in range(rounds):
        yield names[r % len(names) :] + names[: r % len(names)]


# -- measurements ------------------------------------------------------------------------


async def pg_latency(ctx: Context) -> dict[str, Any]:
    """Acknowledged-write latency, one writer per subject: the subjects are open at once
    and take turns write by write (the order rotating), so a load spike on the shared
    machine hits them alike. Median and p99 per subject, and ratios."""
    writes = 300 if ctx.quick else 2000
    names = list(SUBJECTS)
    samples: dict[str, list[float]] = {name: [] for name in names}
    async with contextlib.AsyncExitStack() as stack:
        writers = {name: await stack.enter_async_context(SUBJECTS[name](ctx, 1)) for name in names}
        for i in range(writes // 10):  # warm up: connections, prepared statements, caches
            for name in names:
                await writers[name]("warm", i)
        for i in range(writes * ctx.rounds):
            for name in names[i % 3 :] + names[: i % 3]:
                start = time.perf_counter()
                await writers[name]("agent/one", i)
                samples[name].append(time.perf_counter() - start)
    result = {name: summary_us(values) for name, values in samples.items()}
    base, store = result["psycopg_baseline"]["median"], result["postgres_store"]["median"]
    return {
        "writes": writes * ctx.rounds,
        "latency_us": result,
        "ratios": {
            "pg_store_latency_vs_psycopg_baseline": round(store / base, 3),
            "pg_store_latency_vs_sqlite_store": round(store / result["sqlite_store"]["median"], 3),
        },
    }


async def _closed_loop(write: WriteFn, clients: int, writes: int) -> float:
    """Writes per second of ``clients`` writers sharing ``writes`` writes."""
    per_client = writes // clients

    async def client(c: int) -> None:
        for i in range(per_client):
            await write(f"agent/{c}", i)

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    return per_client * clients / (time.perf_counter() - start)


async def pg_throughput(ctx: Context) -> dict[str, Any]:
    """Closed-loop throughput with 16 and 64 clients: writes/s per subject, and ratios."""
    writes = 1600 if ctx.quick else 8000
    out: dict[str, Any] = {"writes_per_round": writes, "writes_per_s": {}, "ratios": {}}
    for clients in (16, 64):
        rates: dict[str, list[float]] = {name: [] for name in SUBJECTS}
        for order in _rotations(list(SUBJECTS), ctx.rounds):
            for name in order:
                async with SUBJECTS[name](ctx, clients) as write:
                    await _closed_loop(write, clients, clients * 4)  # warm up
                    rates[name].append(await _closed_loop(write, clients, writes))
        medians = {name: round(statistics.median(v)) for name, v in rates.items()}
        out["writes_per_s"][f"{clients}_clients"] = medians
        store = medians["postgres_store"]
        out["ratios"][f"pg_store_throughput_vs_psycopg_baseline_{clients}"] = round(
            store / medians["psycopg_baseline"], 3
        )
        out["ratios"][f"pg_store_throughput_vs_sqlite_store_{clients}"] = round(
            store / medians["sqlite_store"], 3
        )
    return out


#: Every measurement by name (``--only``); other sections of issue 17 add theirs here.
MEASUREMENTS: dict[str, Callable[[Context], Awaitable[dict[str, Any]]]] = {
    "pg_latency": pg_latency,
    "pg_throughput": pg_throughput,
    "nodes_throughput": nodes_throughput,
    "nodes_failover": nodes_failover,
}


# -- running -----------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server() -> Iterator[tuple[str | None, int | None]]:
    """The DSN of ``BASTION_TEST_PG_DSN`` or of a throwaway server (None without one), and
    the throwaway server's postmaster pid."""
    if os.environ.get("BASTION_TEST_PG_DSN"):
        yield os.environ["BASTION_TEST_PG_DSN"], None
        return
    from tests._postgres import local_server

    with local_server(durable=True) as server:  # fsync on: strict commits are real
        if server is None:
            yield None, None
            return
        pid = int((server.data / "postmaster.pid").read_text().split()[0])
        yield server.dsn, pid


async def _measure(ctx: Context, names: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {"ratios": {}}
    for name in names:
        found = await MEASUREMENTS[name](ctx)
        result["ratios"].update(found.pop("ratios", {}))
        result[name] = found
    return result


def run(quick: bool, only: list[str] | None = None, commit: str = "off") -> dict[str, Any]:
    """Run the measurements (all, or ``only``); ``bench/run.py`` calls ``run(quick)``."""
    names = only or list(MEASUREMENTS)
    with postgres_server() as (dsn, pid), tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        if dsn is None:
            return {
                "scale": {"skipped": "no PostgreSQL server binaries and no BASTION_TEST_PG_DSN"}
            }
        ctx = Context(dsn, quick, commit, Path(tmp), rounds=2 if quick else 3, server_pid=pid)
        found = asyncio.run(_measure(ctx, names))
    ratios = {f"scale_{k}": v for k, v in found.pop("ratios").items()}
    return {"scale": {"commit": commit, **found}, "ratios": ratios}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--only NAME`` (repeatable), ``--quick``, ``--commit off|on``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(MEASUREMENTS), default=[])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 2 rounds")
    parser.add_argument("--commit", choices=("off", "on"), default="off")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.quick, args.only, args.commit), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
