"""Flags and rollouts in the console: read views and audited control actions.

Rollouts are found by name: every actor registered as ``rollout:<flag>`` is taken for a
rollout orchestrator and spoken to through its agent actions, the small protocol the
console relies on: ``status`` (a struct with ``flag``, ``status``, ``phase``,
``percent``...), ``evidence``, ``entries`` (the journal), and ``pause``, ``resume``,
``promote`` (``force=``), ``rollback``, ``retry``, each taking ``actor`` and ``reason``.
Flags come from the :class:`~bastion.flags.Flags` service given to ``console_app``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from bastion._core._errors import ExpectedError
from bastion.agents import act
from bastion.console._context import ConsoleContext
from bastion.console._controls import Operator, Why, audited, who
from bastion.console._http import ApiError, json_response, query_int, read_body
from bastion.console._rollout_reads import (
    READ_TIMEOUT,
    ROLLOUT_PREFIX,
    UNAVAILABLE,
    builtins,
    rollout_status,
    rollout_statuses,
)

__all__ = [
    "ROLLOUT_ACTIONS",
    "flag",
    "flags",
    "rollout",
    "rollout_action",
    "rollouts",
    "set_flag",
]

ROLLOUT_ACTIONS = ("pause", "resume", "promote", "rollback", "retry")
#: Deadline of one control action.
ACTION_TIMEOUT = 10.0


class RolloutBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a rollout action: why, who, and ``force`` (promote only)."""

    why: Why
    operator: Operator | None = None
    force: bool = False


class FlagBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a flag change: the canary ``percentage`` and/or ``enabled`` (the kill switch)."""

    why: Why
    operator: Operator | None = None
    percentage: Annotated[float, msgspec.Meta(ge=0, le=100)] | msgspec.UnsetType = msgspec.UNSET
    enabled: bool | msgspec.UnsetType = msgspec.UNSET


def _orchestrator(ctx: ConsoleContext, flag_key: str) -> Any:
    ref = ctx.runtime.whereis(ROLLOUT_PREFIX + flag_key)
    if ref is None:
        raise ApiError(404, "unknown_rollout", f"no rollout of flag {flag_key!r} runs here")
    return ref


async def rollouts(ctx: ConsoleContext, request: Request) -> Response:
    """Every rollout's status (state, phase, exposure)."""
    return json_response({"items": await rollout_statuses(ctx.runtime)})


async def rollout(ctx: ConsoleContext, request: Request) -> Response:
    """One rollout: its status, the latest evidence per signal and its journal."""
    key = request.path_params["flag"]
    ref = _orchestrator(ctx, key)
    limit = query_int(request, "limit", 200, 1, 10_000)
    try:
        status = await act(ref, "status", call_timeout=READ_TIMEOUT)
        evidence = await act(ref, "evidence", call_timeout=READ_TIMEOUT)
        entries = await act(ref, "entries", call_timeout=READ_TIMEOUT)
    except UNAVAILABLE as exc:
        raise ApiError(409, "rollout_unavailable", f"{type(exc).__name__}: {exc}") from None
    data = builtins(status)
    data["phases"] = list(data.get("phases", ()))
    return json_response(
        {"status": data, "evidence": builtins(evidence), "journal": builtins(entries[-limit:])}
    )


async def rollout_action(ctx: ConsoleContext, request: Request) -> Response:
    """pause / resume / promote / rollback / retry a rollout, with the token; audited."""
    key = request.path_params["flag"]
    action = request.path_params["action"]
    if action not in ROLLOUT_ACTIONS:
        raise ApiError(404, "unknown_action", f"rollout actions: {', '.join(ROLLOUT_ACTIONS)}")
    ref = _orchestrator(ctx, key)
    body = await read_body(request, RolloutBody)
    actor = who(request, body.operator)
    params: dict[str, Any] = {"actor": actor, "reason": body.why}
    if action == "promote":
        params["force"] = body.force
    outcome, detail, status_code = "ok", "", 200
    try:
        result = await act(ref, action, call_timeout=ACTION_TIMEOUT, **params)
        detail = f"now {result.status} at {result.percent:g} %"
    except (*UNAVAILABLE, ExpectedError) as exc:  # ExpectedError: a refused transition
        outcome, detail, status_code = "failed", f"{type(exc).__name__}: {exc}", 409
    entry = await audited(
        ctx,
        who=actor, action=f"rollout.{action}", target=key, why=body.why, outcome=outcome,
        detail=detail,
    )  # fmt: skip
    status = await rollout_status(ctx.runtime, ROLLOUT_PREFIX + key)
    payload: dict[str, Any] = {"audit": entry}
    if status is not None:  # the orchestrator may not answer (it is restarting, say)
        payload["status"] = status
    if status_code != 200:
        payload["error"] = {"code": "action_failed", "message": detail}
    return json_response(payload, status_code)


def _flags_service(ctx: ConsoleContext) -> Any:
    if ctx.flags is None:
        raise ApiError(404, "no_flags", "this console was given no Flags service")
    return ctx.flags


def _flag_json(service: Any, flag_obj: Any) -> dict[str, Any]:
    from bastion.flags import flag_to_dict

    data = flag_to_dict(flag_obj)
    data["version"] = service.version(flag_obj.key)
    return data


async def flags(ctx: ConsoleContext, request: Request) -> Response:
    """Every flag: variants, rules, canary percentage, kill switch, version."""
    if ctx.flags is None:
        return json_response({"available": False, "items": []})
    service = ctx.flags
    return json_response(
        {"available": True, "items": [_flag_json(service, f) for f in service.list()]}
    )


async def flag(ctx: ConsoleContext, request: Request) -> Response:
    """One flag and its change history (newest first)."""
    from bastion.flags import UnknownFlag

    service = _flags_service(ctx)
    key = request.path_params["key"]
    limit = query_int(request, "limit", 100, 1, 10_000)
    try:
        current = service.get(key)
        history = list(reversed(service.history(key)))[:limit]
    except (UnknownFlag, ValueError):  # ValueError: no flag can have this key
        raise ApiError(404, "unknown_flag", f"no flag {key!r}") from None
    return json_response(
        {"flag": _flag_json(service, current), "history": [c.as_dict() for c in history]}
    )


async def set_flag(ctx: ConsoleContext, request: Request) -> Response:
    """Set a flag's canary percentage and/or its kill switch, with the token; audited."""
    from bastion.flags import FlagError, UnknownFlag

    service = _flags_service(ctx)
    key = request.path_params["key"]
    body = await read_body(request, FlagBody)
    if body.percentage is msgspec.UNSET and body.enabled is msgspec.UNSET:
        raise ApiError(422, "invalid_body", "give percentage and/or enabled")
    try:
        service.get(key)
    except (UnknownFlag, ValueError):  # ValueError: no flag can have this key
        raise ApiError(404, "unknown_flag", f"no flag {key!r}") from None
    actor = who(request, body.operator)
    changes: list[Any] = []
    outcome, detail, status_code = "ok", "", 200
    try:
        if body.enabled is False:
            changes.append(await service.kill(key, actor=actor, reason=body.why))
        elif body.enabled is True:
            changes.append(await service.set(key, enabled=True, actor=actor, reason=body.why))
        if body.percentage is not msgspec.UNSET:
            changes.append(
                await service.set_percentage(key, body.percentage, actor=actor, reason=body.why)
            )
        current = service.get(key)
        detail = f"percentage {current.percentage:g}, enabled {current.enabled}"
    except FlagError as exc:
        outcome, detail, status_code = "failed", f"{type(exc).__name__}: {exc}", 409
    entry = await audited(
        ctx, who=actor, action="flag.set", target=key, why=body.why, outcome=outcome, detail=detail
    )
    payload: dict[str, Any] = {
        "flag": _flag_json(service, service.get(key)),
        "changes": [c.as_dict() for c in changes],
        "audit": entry,
    }
    if status_code != 200:
        payload["error"] = {"code": "action_failed", "message": detail}
    return json_response(payload, status_code)
