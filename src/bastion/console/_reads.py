"""The read endpoints: overview, tree, supervisors, actors, agents, dead letters, health,
metrics and chart series. All answer JSON from the shared sample or from ``statistics()``.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

import bastion
from bastion.console._context import ConsoleContext
from bastion.console._http import ApiError, json_response, query_choice, query_int, query_text
from bastion.console._rows import ActorRow, ClassRow, SupervisorRow, safe_repr
from bastion.console._sampler import Sample
from bastion.telemetry import HealthReport, MetricFamily

__all__ = [
    "actors",
    "actors_summary",
    "dead_letters",
    "health",
    "metrics",
    "overview",
    "sample_info",
    "series",
    "supervisor",
    "supervisor_json",
    "tree",
]

TREE_CHILDREN = 100  # children listed per supervisor in /api/tree; the rest are paginated
_SORTS = ("rate", "mailbox", "processed", "id", "name")
_SORT_KEYS: dict[str, Any] = {
    "rate": lambda a: (-a.rate, a.id),
    "mailbox": lambda a: (-a.mailbox_depth, a.id),
    "processed": lambda a: (-a.processed, a.id),
    "id": lambda a: a.id,
    "name": lambda a: (a.name is None, a.name or "", a.id),
}


def sample_info(sample: Sample) -> dict[str, Any]:
    """Which sample an answer comes from."""
    return {"seq": sample.seq, "at": sample.at, "wall": sample.wall}


def supervisor_json(row: SupervisorRow) -> dict[str, Any]:
    """A supervisor row without its children."""
    data = asdict(row)
    del data["child_rows"]
    return data


def health_json(report: HealthReport | None) -> dict[str, Any]:
    """A health report (``available`` is false when the runtime has no metrics)."""
    if report is None:
        return {"available": False, "status": None, "at": None, "signals": [], "drivers": []}
    return {
        "available": True,
        "status": report.status.value,
        "at": report.at,
        "signals": [asdict(r) for r in report.signals],
        "drivers": [r.signal for r in report.drivers],
    }


async def overview(ctx: ConsoleContext, request: Request) -> Response:
    """The node at a glance: runtime statistics, health, the busiest actors (``bastion top``)."""
    sample = await ctx.sampler.current()
    busiest = sorted(sample.actors, key=_SORT_KEYS["rate"])[:10]
    return json_response(
        {
            "node": {
                "version": bastion.__version__,
                "pid": os.getpid(),
                "started": ctx.started,
                "uptime": round(sample.wall - ctx.started, 3),
                "interval": ctx.sampler.interval,
            },
            "sample": sample_info(sample),
            "runtime": asdict(sample.runtime),
            "health": health_json(sample.health),
            "supervisors": len(sample.supervisors),
            "busiest": busiest,
            "point": sample.point,
        }
    )


async def tree(ctx: ConsoleContext, request: Request) -> Response:
    """Every supervisor (with its first children) and which are roots."""
    sample = await ctx.sampler.current()
    supervisors = []
    for row in sample.supervisors.values():
        data = supervisor_json(row)
        data["child_rows"] = row.child_rows[:TREE_CHILDREN]
        data["children_truncated"] = len(row.child_rows) > TREE_CHILDREN
        supervisors.append(data)
    roots = [row.id for row in sample.supervisors.values() if row.parent is None]
    unsupervised = [
        a for a in sample.actors if a.supervisor is None and a.actor_class != "Supervisor"
    ]
    return json_response(
        {
            "sample": sample_info(sample),
            "roots": roots,
            "supervisors": supervisors,
            "unsupervised_actors": len(unsupervised),
        }
    )


async def supervisor(ctx: ConsoleContext, request: Request) -> Response:
    """One supervisor and a page of its children."""
    sample = await ctx.sampler.current()
    sid = request.path_params["supervisor"]
    row = sample.supervisors.get(sid)
    if row is None:
        raise ApiError(404, "unknown_supervisor", f"no supervisor {sid!r} (see /api/tree)")
    offset = query_int(request, "offset", 0, 0, 1_000_000)
    limit = query_int(request, "limit", 50, 1, 500)
    return json_response(
        {
            "sample": sample_info(sample),
            "supervisor": supervisor_json(row),
            "children": _page(list(row.child_rows), offset, limit),
        }
    )


def _page(items: list[Any], offset: int, limit: int) -> dict[str, Any]:
    return {
        "total": len(items),
        "offset": offset,
        "limit": limit,
        "items": items[offset : offset + limit],
    }


def _filtered(request: Request, rows: tuple[ActorRow, ...]) -> list[ActorRow]:
    actor_class = query_text(request, "class")
    sup = query_text(request, "supervisor")
    text = query_text(request, "q")
    state = request.query_params.get("state")
    if state is not None and state not in ("busy", "idle", "stopped"):
        raise ApiError(400, "invalid_parameter", "state must be one of busy, idle, stopped")
    picked = []
    for row in rows:
        if actor_class is not None and row.actor_class != actor_class:
            continue
        if sup is not None and row.supervisor != sup:
            continue
        if state is not None and row.state != state:
            continue
        if text is not None and text not in f"{row.name or ''} {row.actor_class} {row.id}":
            continue
        picked.append(row)
    return picked


async def actors(ctx: ConsoleContext, request: Request) -> Response:
    """A sorted, filtered page of the live actors."""
    sample = await ctx.sampler.current()
    offset = query_int(request, "offset", 0, 0, 10_000_000)
    limit = query_int(request, "limit", 50, 1, 500)
    sort = query_choice(request, "sort", _SORTS)
    rows = sorted(_filtered(request, sample.actors), key=_SORT_KEYS[sort])
    return json_response(
        {"sample": sample_info(sample), "sort": sort, **_page(rows, offset, limit)}
    )


async def actors_summary(ctx: ConsoleContext, request: Request) -> Response:
    """Actors aggregated by class or by supervisor (the view that scales to 10,000 actors)."""
    sample = await ctx.sampler.current()
    by = query_choice(request, "by", ("class", "supervisor"))
    limit = query_int(request, "limit", 100, 1, 1000)
    groups: dict[str, list[ActorRow]] = {}
    for row in sample.actors:
        key = row.actor_class if by == "class" else (row.supervisor or "")
        groups.setdefault(key, []).append(row)
    rows = [_group(ctx, key, members, by == "class") for key, members in groups.items()]
    rows.sort(key=lambda r: (-r.actors, r.key))
    return json_response(
        {"sample": sample_info(sample), "by": by, "total": len(rows), "groups": rows[:limit]}
    )


def _group(ctx: ConsoleContext, key: str, members: list[ActorRow], by_class: bool) -> ClassRow:
    calls = p50 = p99 = None
    metrics = ctx.runtime.metrics
    if by_class and metrics.enabled:
        window = ctx.sampler.chart_window
        calls = round(metrics.window("bastion_calls", window, {"actor_class": key}).rate, 3)
        latency = metrics.window("bastion_call_duration_seconds", 60.0, {"actor_class": key})
        if latency.histogram is not None and latency.histogram.count:
            p50, p99 = latency.histogram.percentile(50), latency.histogram.percentile(99)
    return ClassRow(
        key=key,
        actors=len(members),
        busy=sum(m.state == "busy" for m in members),
        mailbox_depth=sum(m.mailbox_depth for m in members),
        mailbox_max=max((m.mailbox_depth for m in members), default=0),
        rate=round(sum(m.rate for m in members), 3),
        calls_per_second=calls,
        latency_p50=p50,
        latency_p99=p99,
    )


async def dead_letters(ctx: ConsoleContext, request: Request) -> Response:
    """The newest dead letters (optionally one reason) and the queue's statistics."""
    limit = query_int(request, "limit", 50, 1, 1000)
    reason = query_text(request, "reason")
    queue = ctx.runtime.dead_letters
    now = ctx.runtime.clock.now()
    items = []
    for letter in reversed(queue.items()):
        if reason is not None and letter.reason.split(":", 1)[0] != reason:
            continue
        items.append(
            {
                "recipient": letter.recipient,
                "name": letter.name,
                "reason": letter.reason,
                "at": letter.at,
                "age": round(now - letter.at, 3),
                "message": safe_repr(letter.message),
            }
        )
        if len(items) == limit:
            break
    return json_response({"statistics": asdict(queue.statistics()), "items": items})


async def health(ctx: ConsoleContext, request: Request) -> Response:
    """The HealthMonitor's report over the console's SLOs."""
    sample = await ctx.sampler.current()
    return json_response({"sample": sample_info(sample), **health_json(sample.health)})


def _family_json(family: MetricFamily) -> dict[str, Any]:
    samples = []
    for s in family.samples:
        entry: dict[str, Any] = {
            "labels": dict(zip(family.label_names, s.label_values, strict=True)),
            "value": s.value,
        }
        if s.histogram is not None:
            h = s.histogram
            entry["histogram"] = {
                "count": h.count,
                "sum": h.sum,
                "p50": h.percentile(50) if h.count else None,
                "p99": h.percentile(99) if h.count else None,
            }
        samples.append(entry)
    return {
        "name": family.name,
        "kind": family.kind.value,
        "unit": family.unit,
        "description": family.description,
        "label_names": list(family.label_names),
        "samples": samples,
    }


async def metrics(ctx: ConsoleContext, request: Request) -> Response:
    """Current values of every metric (``name=`` picks one)."""
    name = query_text(request, "name")
    registry = ctx.runtime.metrics
    if name is not None:
        try:
            families = [registry.family(name)]
        except KeyError:
            raise ApiError(404, "unknown_metric", f"no metric named {name!r}") from None
    else:
        families = list(registry.collect())
    return json_response(
        {"enabled": registry.enabled, "families": [_family_json(f) for f in families]}
    )


async def series(ctx: ConsoleContext, request: Request) -> Response:
    """The chart series: one point per sample, newest last."""
    await ctx.sampler.current()
    limit = query_int(request, "limit", 300, 1, 100_000)
    points = list(ctx.sampler.series)[-limit:]
    return json_response(
        {"interval": ctx.sampler.interval, "window": ctx.sampler.chart_window, "points": points}
    )
