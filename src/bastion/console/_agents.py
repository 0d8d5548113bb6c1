"""The agents endpoints: registered agents (capabilities, health) and TaskAgent queues."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bastion._core._errors import ActorCrashed, ActorNotAlive, CallTimeout, NoSuchActor
from bastion.agents import TaskAgentStatistics, UnknownAction, act
from bastion.console._context import ConsoleContext
from bastion.console._http import json_response, query_int
from bastion.console._rows import safe_repr

__all__ = ["agents", "task_agents"]

#: How long the console waits for one TaskAgent's ``status``.
STATUS_TIMEOUT = 1.0
_UNAVAILABLE = (ActorNotAlive, CallTimeout, NoSuchActor, ActorCrashed, UnknownAction)


def _metadata(metadata: dict[str, Any]) -> tuple[list[str], str | None, dict[str, str]]:
    capabilities = metadata.get("capabilities")
    caps = [str(c) for c in capabilities] if isinstance(capabilities, list | tuple) else []
    health = metadata.get("health")
    rest = {
        str(k): safe_repr(v) for k, v in metadata.items() if k not in ("capabilities", "health")
    }
    return caps, (str(health) if health is not None else None), rest


async def agents(ctx: ConsoleContext, request: Request) -> Response:
    """A page of the registered actors with their capabilities, health and metadata."""
    offset = query_int(request, "offset", 0, 0, 10_000_000)
    limit = query_int(request, "limit", 50, 1, 500)
    entries = sorted(ctx.runtime.registry.entries(), key=lambda e: e.name)
    items = []
    for entry in entries[offset : offset + limit]:
        try:
            stats = entry.ref.statistics()
        except NoSuchActor:
            continue
        caps, health, rest = _metadata(dict(entry.metadata))
        items.append(
            {
                "name": entry.name,
                "actor_class": stats.actor_class,
                "actor_id": stats.id,
                "capabilities": caps,
                "health": health,
                "metadata": rest,
            }
        )
    return json_response({"total": len(entries), "offset": offset, "limit": limit, "items": items})


def _task_agent_names(ctx: ConsoleContext) -> list[str]:
    """TaskAgents known to the metrics (``bastion_task_agent_queue_length{agent}``)."""
    metrics = ctx.runtime.metrics
    if not metrics.enabled:
        return []
    family = metrics.family("bastion_task_agent_queue_length")
    registry = ctx.runtime.registry
    return sorted({s.label_values[0] for s in family.samples if s.label_values[0] in registry})


async def _status(ctx: ConsoleContext, name: str) -> dict[str, Any]:
    ref = ctx.runtime.whereis(name)
    try:
        if ref is None:
            raise NoSuchActor(f"no actor is registered as {name!r}")
        stats = await act(ref, "status", returns=TaskAgentStatistics, call_timeout=STATUS_TIMEOUT)
    except _UNAVAILABLE as exc:
        return {"name": name, "available": False, "error": f"{type(exc).__name__}: {exc}"}
    data = asdict(stats)
    data["status"] = stats.status.value
    oldest = stats.oldest_queued_at
    data["oldest_waiting_seconds"] = (
        None if oldest is None else round(max(time.time() - oldest, 0.0), 3)
    )
    return {"name": name, "available": True, "error": None, **data}


async def task_agents(ctx: ConsoleContext, request: Request) -> Response:
    """Each TaskAgent's queue (counts by priority, how long the oldest task has waited),
    status and counters."""
    offset = query_int(request, "offset", 0, 0, 1_000_000)
    limit = query_int(request, "limit", 50, 1, 200)
    names = _task_agent_names(ctx)
    page = names[offset : offset + limit]
    items = await asyncio.gather(*(_status(ctx, name) for name in page))
    return json_response({"total": len(names), "offset": offset, "limit": limit, "items": items})
