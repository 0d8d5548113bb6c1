"""Durable workflows in the console: list, read, and cancel / resume / retry (audited).

The console is given a :class:`~bastion.workflows.WorkflowEngine` (``console_app(...,
workflows=engine)``): reads come from its store, finished workflows included, and the
actions are the engine's own, so a resumed workflow runs in this node at once.

* ``resume``: a cancelled or failed workflow runs again from its recorded steps (a
  failed step runs again); a running one is left alone; a completed one is refused.
* ``retry``: a *failed* workflow runs again from its failed step (anything else is
  refused); with ``from_step`` it is forked instead: a new workflow (``new_id``, default
  ``<id>~retry-<step>-<random>``) reuses the steps before ``from_step`` and runs the rest.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from bastion.console._context import ConsoleContext
from bastion.console._controls import Operator, Why, audited, who
from bastion.console._http import ApiError, json_response, query_int, query_text, read_body

__all__ = ["WORKFLOW_ACTIONS", "WORKFLOW_STATUSES", "workflow", "workflow_action", "workflows"]

WORKFLOW_ACTIONS = ("cancel", "resume", "retry")
WORKFLOW_STATUSES = ("running", "completed", "failed", "cancelled")
_MAX_AGE = 10 * 365 * 86400  # seconds: "created in the last ten years" is "any"


class WorkflowBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a workflow action: why, who; ``retry`` may fork ``from_step`` as ``new_id``."""

    why: Why
    operator: Operator | None = None
    from_step: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    new_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


def _engine(ctx: ConsoleContext) -> Any:
    if ctx.workflows is None:
        raise ApiError(404, "no_workflows", "this console was given no workflow engine")
    return ctx.workflows


def info_json(info: Any) -> dict[str, Any]:
    """A ``WorkflowInfo`` or ``StepInfo`` as JSON-ready builtins (enums as their value)."""
    from bastion.workflows._inspect import info_json as as_json  # imported on first use

    return as_json(info)


async def workflows(ctx: ConsoleContext, request: Request) -> Response:
    """Stored workflows (finished ones included), newest first, filtered."""
    if ctx.workflows is None:
        return json_response({"available": False, "total": 0, "items": []})
    status = request.query_params.get("status")
    if status is not None and status not in WORKFLOW_STATUSES:
        raise ApiError(400, "invalid_parameter", f"status must be one of {WORKFLOW_STATUSES}")
    name = query_text(request, "name")
    max_age = query_int(request, "max_age", _MAX_AGE, 1, _MAX_AGE)
    limit = query_int(request, "limit", 100, 1, 10_000)
    engine = ctx.workflows
    after = time.time() - max_age if "max_age" in request.query_params else None
    found = await engine.list(status=status, name=name, created_after=after)
    newest = list(reversed(found))[:limit]
    return json_response(
        {"available": True, "total": len(found), "items": [info_json(i) for i in newest]}
    )


async def _read(engine: Any, workflow_id: str) -> tuple[Any, list[Any]]:
    from bastion.workflows import CorruptWorkflow, UnknownWorkflow

    try:
        return await engine.get(workflow_id), await engine.steps(workflow_id)
    except (UnknownWorkflow, ValueError):  # ValueError: no workflow can have this id
        raise ApiError(404, "unknown_workflow", f"no workflow {workflow_id!r}") from None
    except CorruptWorkflow as exc:
        raise ApiError(409, "corrupt_workflow", str(exc)) from None


async def workflow(ctx: ConsoleContext, request: Request) -> Response:
    """One workflow and its recorded steps."""
    limit = query_int(request, "limit", 1000, 1, 100_000)
    info, steps = await _read(_engine(ctx), request.path_params["workflow_id"])
    return json_response(
        {"workflow": info_json(info), "steps": [info_json(s) for s in steps[:limit]]}
    )


async def _act(engine: Any, action: str, workflow_id: str, body: WorkflowBody) -> Any:
    """Do ``action``; the workflow it leaves (the new one for a forking retry)."""
    from bastion.workflows import WorkflowError, WorkflowFinished

    info = await engine.get(workflow_id)
    if action == "cancel":
        return await engine.cancel(workflow_id)
    if action == "resume":
        return await engine.resume(workflow_id)
    if body.from_step is not None:
        new_id = body.new_id or f"{workflow_id}~retry-{body.from_step}-{secrets.token_hex(3)}"
        handle = await engine.fork(workflow_id, from_step=body.from_step, new_id=new_id)
        return await engine.get(handle.workflow_id)
    if str(info.status) != "failed":
        raise WorkflowFinished(
            f"workflow {workflow_id!r} is {info.status}, not failed: retry runs a failed "
            "workflow again (resume continues a cancelled one; from_step forks any)"
        )
    try:
        return await engine.resume(workflow_id)
    except WorkflowError as exc:
        raise WorkflowFinished(str(exc)) from exc


async def workflow_action(ctx: ConsoleContext, request: Request) -> Response:
    """cancel / resume / retry a workflow, with the token; audited."""
    from bastion._core._errors import ExpectedError
    from bastion.workflows import CorruptWorkflow, UnknownWorkflow, WorkflowError

    engine = _engine(ctx)
    workflow_id = request.path_params["workflow_id"]
    action = request.path_params["action"]
    if action not in WORKFLOW_ACTIONS:
        raise ApiError(404, "unknown_action", f"workflow actions: {', '.join(WORKFLOW_ACTIONS)}")
    body = await read_body(request, WorkflowBody)
    await _read(engine, workflow_id)  # 404 / 409 before anything is done or audited
    actor = who(request, body.operator)
    outcome, detail, status_code, result = "ok", "", 200, None
    try:
        result = await _act(engine, action, workflow_id, body)
        detail = f"{result.id} is {result.status}"
    except UnknownWorkflow as exc:
        raise ApiError(404, "unknown_workflow", str(exc)) from None
    except (ValueError, CorruptWorkflow, WorkflowError, ExpectedError) as exc:
        outcome, detail, status_code = "failed", f"{type(exc).__name__}: {exc}", 409
    entry = await audited(
        ctx, who=actor, action=f"workflow.{action}", target=workflow_id, why=body.why,
        outcome=outcome, detail=detail,
    )  # fmt: skip
    payload: dict[str, Any] = {"audit": entry}
    if result is not None:
        payload["workflow"] = info_json(result)
    if status_code != 200:
        payload["error"] = {"code": "action_failed", "message": detail}
    return json_response(payload, status_code)
