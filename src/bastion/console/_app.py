"""``console_app(rt)``: the console's Starlette app (API, live events, dashboard, /metrics)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bastion._core._runtime import Runtime
from bastion.console import _agents, _controls, _events, _reads, _rollouts, _workflows
from bastion.console._audit import AuditJournal
from bastion.console._context import ConsoleContext
from bastion.console._guard import LOOPBACK_HOSTS, Guard
from bastion.console._http import ApiError, error_response, json_response, query_int
from bastion.console._openapi import openapi_document
from bastion.console._sampler import Sampler
from bastion.persistence import StateStore
from bastion.telemetry import DEFAULT_SLOS, SLO

__all__ = ["ConsoleApp", "console_app", "new_token"]

Handler = Callable[[ConsoleContext, Request], Awaitable[Response]]
STATIC = resources.files("bastion.console") / "static"
#: The dashboard runs only its own scripts, in no frame, from this origin.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def new_token() -> str:
    """A fresh random bearer token (32 bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


class ConsoleApp(Guard):
    """The console as an ASGI app; ``token`` and ``context`` are there to read."""

    def __init__(self, app: Starlette, context: ConsoleContext, allowed_hosts: tuple[str, ...]):
        super().__init__(
            app,
            token=context.token,
            allowed_hosts=allowed_hosts,
            reads_need_token=context.reads_need_token,
        )
        self.context = context

    @property
    def token(self) -> str:
        """The bearer token control actions need."""
        return self.context.token

    @property
    def sampler(self) -> Sampler:
        """The sampler (its ``series`` holds the chart points)."""
        return self.context.sampler

    @property
    def journal(self) -> AuditJournal:
        """The audit journal of control actions."""
        return self.context.journal


def _endpoint(ctx: ConsoleContext, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(ctx, request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _routes(ctx: ConsoleContext) -> list[BaseRoute]:
    get: list[tuple[str, Handler]] = [
        ("/api/overview", _reads.overview),
        ("/api/tree", _reads.tree),
        ("/api/supervisors/{supervisor}", _reads.supervisor),
        ("/api/actors", _reads.actors),
        ("/api/actors/summary", _reads.actors_summary),
        ("/api/agents", _agents.agents),
        ("/api/task-agents", _agents.task_agents),
        ("/api/dead-letters", _reads.dead_letters),
        ("/api/health", _reads.health),
        ("/api/metrics", _reads.metrics),
        ("/api/series", _reads.series),
        ("/api/audit", _audit),
        ("/api/events", _events.events),
        ("/api/flags", _rollouts.flags),
        ("/api/flags/{key}", _rollouts.flag),
        ("/api/rollouts", _rollouts.rollouts),
        ("/api/rollouts/{flag}", _rollouts.rollout),
        ("/api/workflows", _workflows.workflows),
        ("/api/workflows/{workflow_id}", _workflows.workflow),
    ]
    post: list[tuple[str, Handler]] = [
        ("/api/dead-letters/replay", _controls.replay_dead_letters),
        ("/api/supervisors/{supervisor}/children/{child}/restart", _controls.restart_child),
        ("/api/supervisors/{supervisor}/children/{child}/terminate", _controls.terminate_child),
        ("/api/flags/{key}", _rollouts.set_flag),
        ("/api/rollouts/{flag}/{action}", _rollouts.rollout_action),
        ("/api/workflows/{workflow_id}/{action}", _workflows.workflow_action),
    ]
    routes: list[BaseRoute] = [Route(p, _endpoint(ctx, h), methods=["GET"]) for p, h in get]
    routes += [Route(p, _endpoint(ctx, h), methods=["POST"]) for p, h in post]
    routes += [
        Route("/openapi.json", partial(_openapi, ctx), methods=["GET"]),
        Route("/", _index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
    ]
    metrics = _prometheus(ctx.runtime)
    if metrics is not None:
        routes.append(Route("/metrics", _AsgiEndpoint(metrics), methods=["GET"]))
    return routes


class _AsgiEndpoint:
    """An ASGI app as a route endpoint (Starlette calls plain functions as handlers)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


async def _audit(ctx: ConsoleContext, request: Request) -> Response:
    """The audit journal, newest first (from the state store when the journal has one)."""
    from bastion.persistence import StoreError

    limit = query_int(request, "limit", 100, 1, 1000)
    try:
        entries = await ctx.journal.read(limit)
    except StoreError as exc:
        raise ApiError(503, "audit_unavailable", f"{type(exc).__name__}: {exc}") from None
    return json_response({"entries": entries})


async def _openapi(ctx: ConsoleContext, request: Request) -> Response:
    return json_response(openapi_document(metrics=_prometheus_available()))


async def _index(request: Request) -> Response:
    return FileResponse(str(STATIC / "index.html"), headers=_PAGE_HEADERS)


def _prometheus_available() -> bool:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


def _prometheus(runtime: Runtime) -> Any:
    if not _prometheus_available() or not runtime.metrics.enabled:
        return None
    from bastion.telemetry.prometheus import metrics_app

    return metrics_app(runtime)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), exc.detail)


def console_app(
    runtime: Runtime,
    *,
    token: str | None = None,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    reads_need_token: bool = False,
    interval: float = 1.0,
    history: int = 300,
    slos: Sequence[SLO] = DEFAULT_SLOS,
    journal: AuditJournal | None = None,
    flags: Any = None,
    store: StateStore | None = None,
    workflows: Any = None,
) -> ConsoleApp:
    """The console of ``runtime`` as an ASGI app, to serve or to mount.

    ``token``: the bearer token control actions need (default: a new random one, read it
    from ``app.token``). ``allowed_hosts``: the ``Host`` values served (default:
    loopback names). ``reads_need_token``: require the token on reads too (``serve``
    sets it when listening beyond loopback). ``interval``: seconds between samples;
    ``history``: chart points kept; ``slos``: what health is judged against.
    ``journal``: where control actions are audited (default: an :class:`AuditJournal`
    on ``store``, the node's state store, so the journal outlives the process and
    ``bastion console audit --db`` reads it; in memory only without one); ``flags``: a
    :class:`bastion.flags.Flags` service to show and set (rollout orchestrators, actors
    registered as ``rollout:<flag>``, are found by name); ``workflows``: a
    :class:`bastion.workflows.WorkflowEngine` whose workflows to list, cancel, resume
    and retry.
    """
    if token is not None and (not isinstance(token, str) or len(token) < 16):
        raise ValueError("the console token must be a string of at least 16 characters")
    context = ConsoleContext(
        runtime=runtime,
        sampler=Sampler(runtime, interval=interval, history=history, slos=slos),
        journal=journal if journal is not None else AuditJournal(store=store),
        token=token if token is not None else new_token(),
        reads_need_token=reads_need_token,
        flags=flags,
        workflows=workflows,
    )
    app = Starlette(routes=_routes(context), exception_handlers={HTTPException: _http_error})
    return ConsoleApp(app, context, tuple(allowed_hosts))
