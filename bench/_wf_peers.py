"""The peers of ``bench_workflows.py``: plain asyncio, DBOS Transact and LangGraph.

Each ``run_<peer>(work, n, ...)`` runs the 3-step job of :mod:`_wf_jobs` ``n`` times with
8 concurrent clients in this process and returns jobs per second. DBOS: ``@DBOS.workflow``
over three ``@DBOS.step`` calls, started directly (system database on PostgreSQL or
SQLite). LangGraph: a ``StateGraph`` fetch → transform → store, one thread per job,
``AsyncSqliteSaver`` with ``durability="sync"`` (no step re-runs after a crash).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

from _wf_jobs import drive, fetch_value, store_value, transform_value, work

__all__ = ["run_dbos", "run_langgraph", "run_plain"]


async def run_plain(kind: str, n: int) -> float:
    """No durability: three awaited steps."""

    async def job(i: int) -> int:
        await work(kind)
        x = fetch_value(i)
        await work(kind)
        x = transform_value(x)
        await work(kind)
        return store_value(x)

    return await drive(n, job)


async def run_dbos(kind: str, n: int, url: str) -> float:
    """DBOS Transact with its system database at ``url`` (``postgresql://`` or
    ``sqlite:///``)."""
    from dbos import DBOS

    @DBOS.step()
    async def fetch(i: int) -> int:
        await work(kind)
        return fetch_value(i)

    @DBOS.step()
    async def transform(x: int) -> int:
        await work(kind)
        return transform_value(x)

    @DBOS.step()
    async def store(x: int) -> int:
        await work(kind)
        return store_value(x)

    @DBOS.workflow()
    async def job(i: int) -> int:
        return await store(await transform(await fetch(i)))

    DBOS(config={"name": "bench", "system_database_url": url, "log_level": "WARNING"})
    DBOS.launch()
    try:
        return await drive(n, job)
    finally:
        DBOS.destroy(destroy_registry=True)


class _State(TypedDict):
    value: int


async def run_langgraph(kind: str, n: int, path: Path, durability: str = "sync") -> float:
    """LangGraph with its SQLite checkpointer at ``path``."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.graph import END, START, StateGraph

    async def fetch(state: _State) -> dict[str, int]:
        await work(kind)
        return {"value": fetch_value(state["value"])}

    async def transform(state: _State) -> dict[str, int]:
        await work(kind)
        return {"value": transform_value(state["value"])}

    async def store(state: _State) -> dict[str, int]:
        await work(kind)
        return {"value": store_value(state["value"])}

    builder: Any = StateGraph(_State)
    for name, node in (("fetch", fetch), ("transform", transform), ("store", store)):
        builder.add_node(name, node)
    builder.add_edge(START, "fetch")
    builder.add_edge("fetch", "transform")
    builder.add_edge("transform", "store")
    builder.add_edge("store", END)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        graph = builder.compile(checkpointer=saver)

        async def job(i: int) -> int:
            config = {"configurable": {"thread_id": f"job-{i}"}}
            out = await graph.ainvoke({"value": i}, config, durability=durability)
            return int(out["value"])

        return await drive(n, job)
