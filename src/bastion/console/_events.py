"""Live updates over Server-Sent Events: one ``snapshot`` event per sample.

Every client gets the same frame, encoded once per sample, so 20 open dashboards cost
one sample and one encoding per interval. ``max_events=N`` closes the stream after N
events (scripts, tests); without it the stream runs until the client leaves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bastion.console._context import ConsoleContext
from bastion.console._http import query_int
from bastion.console._reads import health_json, supervisor_json
from bastion.console._sampler import Sample

__all__ = ["EVENT_SUPERVISORS", "events", "snapshot_event"]

EVENT_SUPERVISORS = 200  # supervisors carried in one event; the tree view pages the rest
_ENCODER = msgspec.json.Encoder()
_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def snapshot_event(ctx: ConsoleContext, sample: Sample) -> dict[str, Any]:
    """What one ``snapshot`` event carries."""
    busiest = sorted(sample.actors, key=lambda a: (-a.rate, a.id))[:10]
    supervisors = []
    for row in list(sample.supervisors.values())[:EVENT_SUPERVISORS]:
        data = supervisor_json(row)
        data["child_restarts"] = {c.id: c.restarts for c in row.child_rows if c.restarts}
        supervisors.append(data)
    stats = sample.runtime
    return {
        "seq": sample.seq,
        "wall": sample.wall,
        "runtime": {
            "actors": stats.actors,
            "busy_actors": stats.busy_actors,
            "restarts": stats.restarts,
            "crashed": stats.crashed,
            "escalations": stats.escalations,
            "call_timeouts": stats.call_timeouts,
            "dead_letters": stats.dead_letters.size,
            "dead_letters_total": stats.dead_letters.total,
        },
        "health": health_json(sample.health),
        "supervisors": supervisors,
        "busiest": busiest,
        "point": sample.point,
        "rollouts": sample.rollouts,
        "flags": _flags_summary(ctx),
    }


def _flags_summary(ctx: ConsoleContext) -> list[dict[str, Any]]:
    if ctx.flags is None:
        return []
    return [
        {"key": f.key, "percentage": f.percentage, "enabled": f.enabled}
        for f in ctx.flags.list()[:EVENT_SUPERVISORS]
    ]


def _frame(ctx: ConsoleContext, sample: Sample) -> bytes:
    cached = ctx.frames.get(sample.seq)
    if cached is None:
        body = _ENCODER.encode(snapshot_event(ctx, sample))
        cached = b"id: %d\nevent: snapshot\ndata: %s\n\n" % (sample.seq, body)
        ctx.frames.clear()
        ctx.frames[sample.seq] = cached
    return cached


async def events(ctx: ConsoleContext, request: Request) -> Response:
    """``text/event-stream`` of ``snapshot`` events, one per sample interval."""
    max_events = query_int(request, "max_events", 0, 0, 1_000_000)
    clock = ctx.runtime.clock
    interval = ctx.sampler.interval

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 3000\n\n"
        sent = last = 0
        while True:
            sample = await ctx.sampler.current()
            if sample.seq != last:  # a sample is sent once, whoever took it
                yield _frame(ctx, sample)
                sent, last = sent + 1, sample.seq
                if sent == max_events:
                    return
            await clock.sleep(max(sample.at + interval - clock.now(), interval / 10))

    return StreamingResponse(stream(), media_type="text/event-stream", headers=_HEADERS)
