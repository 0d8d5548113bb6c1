"""Control actions: dead-letter replay, restart and terminate a supervised child.

Each needs the bearer token (checked before the body is read), a JSON body with a
``why``, and is recorded in the audit journal whatever its outcome. Each answers with
the state it produced.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from bastion._core._errors import (
    ActorNotAlive,
    CallTimeout,
    NameTaken,
    StartFailed,
    SupervisorError,
)
from bastion._core._supervisor import ChildInfo, SupervisorHandle
from bastion.console._audit import AuditEntry
from bastion.console._context import ConsoleContext
from bastion.console._http import ApiError, json_response, read_body
from bastion.console._tree import READ_TIMEOUT, find_supervisor

__all__ = [
    "audited",
    "ControlBody",
    "Operator",
    "ReplayBody",
    "Why",
    "replay_dead_letters",
    "restart_child",
    "terminate_child",
    "who",
]

Why = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Operator = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Filter = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=100_000)]

#: Deadline of a restart or terminate (the child's own shutdown timeout applies inside).
CONTROL_TIMEOUT = 30.0
_CHILD_FAILURES = (ActorNotAlive, CallTimeout, NameTaken, StartFailed, SupervisorError)


class ControlBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a control action: why (required) and who (optional, default ``console``)."""

    why: Why
    operator: Operator | None = None


class ReplayBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a dead-letter replay: which letters (by name, reason) and how many at most."""

    why: Why
    operator: Operator | None = None
    name: Filter | None = None
    reason: Filter | None = None
    limit: Limit | None = None


async def audited(
    ctx: ConsoleContext, *, who: str, action: str, target: str, why: str, outcome: str, detail: str
) -> AuditEntry:
    """Append the action to the audit journal (persisted when it has a store).

    A store that refuses the write is a 503 that says the action itself was done.
    """
    from bastion.persistence import StoreError

    try:
        return await ctx.journal.append(
            who=who, action=action, target=target, why=why, outcome=outcome, detail=detail
        )
    except StoreError as exc:
        message = (
            f"{action} on {target} was done ({outcome}: {detail}) but its audit entry "
            f"could not be stored: {type(exc).__name__}: {exc}"
        )
        raise ApiError(503, "audit_failed", message) from None


def who(request: Request, operator: str | None) -> str:
    """``operator@client-address`` (``console`` when the body names no operator)."""
    client = request.client.host if request.client is not None else "unknown"
    return f"{operator or 'console'}@{client}"


async def replay_dead_letters(ctx: ConsoleContext, request: Request) -> Response:
    """Re-send matching dead letters (as casts) to the actors now registered under their name."""
    body = await read_body(request, ReplayBody)
    budget = [body.limit if body.limit is not None else 1 << 62]

    def wanted(letter: Any) -> bool:
        if body.name is not None and letter.name != body.name:
            return False
        if body.reason is not None and letter.reason.split(":", 1)[0] != body.reason:
            return False
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        return True

    result = ctx.runtime.dead_letters.replay(wanted)
    target = f"dead-letters name={body.name or '*'} reason={body.reason or '*'}"
    entry = await audited(
        ctx,
        who=who(request, body.operator),
        action="dead_letters.replay",
        target=target,
        why=body.why,
        outcome="ok",
        detail=f"delivered {result.delivered}, failed {result.failed}",
    )
    return json_response(
        {
            "result": asdict(result),
            "statistics": asdict(ctx.runtime.dead_letters.statistics()),
            "audit": entry,
        }
    )


def _supervisor(ctx: ConsoleContext, request: Request) -> tuple[SupervisorHandle, str, str]:
    sid = request.path_params["supervisor"]
    child_id = request.path_params["child"]
    handle = find_supervisor(ctx.runtime, sid)
    if handle is None:
        raise ApiError(404, "unknown_supervisor", f"no supervisor {sid!r} (see /api/tree)")
    return handle, sid, child_id


async def _children(handle: SupervisorHandle, sid: str) -> list[ChildInfo]:
    try:
        return await handle.which_children(timeout=READ_TIMEOUT)
    except (ActorNotAlive, CallTimeout) as exc:
        message = f"supervisor {sid!r} did not answer: {type(exc).__name__}: {exc}"
        raise ApiError(409, "supervisor_unavailable", message) from None


async def _child_state(handle: SupervisorHandle, sid: str, child_id: str) -> dict[str, Any]:
    for info in await _children(handle, sid):
        if info.id == child_id:
            actor_id = info.ref.statistics().id if info.ref is not None and info.alive else None
            return {
                "id": info.id,
                "actor_class": info.actor_class,
                "restart": info.restart.value,
                "alive": info.alive,
                "actor_id": actor_id,
            }
    return {"id": child_id, "actor_class": None, "restart": None, "alive": False, "actor_id": None}


async def _known_child(handle: SupervisorHandle, sid: str, child_id: str) -> bool:
    """Whether the child exists; 404 if not. Returns whether it runs now."""
    for info in await _children(handle, sid):
        if info.id == child_id:
            return info.alive
    raise ApiError(404, "unknown_child", f"supervisor {sid!r} has no child {child_id!r}")


async def _control(ctx: ConsoleContext, request: Request, action: str) -> Response:
    handle, sid, child_id = _supervisor(ctx, request)
    body = await read_body(request, ControlBody)
    running = await _known_child(handle, sid, child_id)
    outcome, detail, status = "ok", "", 200
    try:
        if action == "terminate":
            await handle.terminate_child(child_id, timeout=CONTROL_TIMEOUT)
            detail = "terminated (spec kept: it stays down until restarted)"
        else:
            if running:
                await handle.terminate_child(child_id, timeout=CONTROL_TIMEOUT)
            await handle.restart_child(child_id, timeout=CONTROL_TIMEOUT)
            detail = "restarted" if running else "started again"
    except _CHILD_FAILURES as exc:
        outcome, detail, status = "failed", f"{type(exc).__name__}: {exc}", 409
    entry = await audited(
        ctx,
        who=who(request, body.operator),
        action=f"child.{action}",
        target=f"{sid}/{child_id}",
        why=body.why,
        outcome=outcome,
        detail=detail,
    )
    state = await _child_state(handle, sid, child_id)
    payload = {"child": state, "supervisor": sid, "audit": entry}
    if status != 200:
        payload["error"] = {"code": "action_failed", "message": detail}
    return json_response(payload, status)


async def restart_child(ctx: ConsoleContext, request: Request) -> Response:
    """Restart a supervised child (terminate it first if it runs); answers its new state."""
    return await _control(ctx, request, "restart")


async def terminate_child(ctx: ConsoleContext, request: Request) -> Response:
    """Terminate a supervised child, keeping its spec; answers its state."""
    return await _control(ctx, request, "terminate")
