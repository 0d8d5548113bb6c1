"""Serving the console: :class:`ConsoleService` (an actor running uvicorn) and :func:`serve`.

The service binds its socket in ``on_start`` (so a port in use fails the start, at the
call site), runs uvicorn's server as a supervised task of the runtime, and crashes if
that server stops on its own, so its supervisor restarts it on the same port. It also
takes a sample every interval, so the chart series fill even when nobody is looking.
uvicorn is told to leave the process's signal handlers and logging alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn

from bastion._core._actor import Actor
from bastion._core._childspec import ChildSpec
from bastion._core._messages import ExitReason
from bastion._core._runtime import Runtime
from bastion._core._supervisor_handle import SupervisorHandle
from bastion.console._app import ConsoleApp, console_app
from bastion.console._guard import LOOPBACK_HOSTS, is_loopback

__all__ = ["ConsoleServer", "ConsoleService", "serve"]

#: Seconds uvicorn gives open connections (live event streams) when the console stops.
GRACEFUL_SHUTDOWN = 2


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers: the host process keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Tick:
    """Timer message: take a sample."""


class _ServerStopped:
    """Cast by the server task's done callback."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class ConsoleService(Actor):
    """Serves ``app`` on ``host:port`` with uvicorn; put it under a supervisor."""

    def __init__(self, app: ConsoleApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[Any] | None = None
        self._stopping = False

    async def on_start(self) -> None:
        """Bind the socket, start the server task and the sampling timer."""
        self._socket = _bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        )
        self._server = _Server(config)
        self._task = self.runtime.tasks.start(self._server.serve, [self._socket])
        ref = self.ref
        self._task.add_done_callback(lambda _: self._stopped(ref))
        self.send_interval(self.app.sampler.interval, _Tick())

    def _stopped(self, ref: Any) -> None:
        if not self._stopping and ref.is_alive:
            ref.cast_nowait(_ServerStopped())

    def handle_info(self, message: Any) -> None:
        """Take a sample each tick (in a supervised task: a slow one never blocks us)."""
        if isinstance(message, _Tick):
            self.runtime.tasks.start(self._sample)

    async def _sample(self) -> None:
        sampler = self.app.sampler
        await sampler.current(max_age=sampler.interval / 2)

    def handle_cast(self, message: Any) -> None:
        """The server stopped without being asked: crash, so the supervisor restarts us."""
        if isinstance(message, _ServerStopped):
            raise RuntimeError(f"the console's HTTP server on {self.host}:{self.port} stopped")

    def handle_call(self, message: Any) -> Any:
        """``"port"``: the port the console listens on."""
        if message == "port":
            return self.port
        raise ValueError(f"unknown request {message!r}")

    async def on_stop(self, reason: ExitReason) -> None:
        """Ask uvicorn to stop, wait for it, close the socket."""
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None and not self._task.done():
            done, _ = await asyncio.wait({self._task}, timeout=GRACEFUL_SHUTDOWN + 3)
            if not done:
                self._task.cancel()
        if self._socket is not None:
            self._socket.close()


@dataclass(frozen=True, slots=True)
class ConsoleServer:
    """A running console: ``url`` (with the token for the dashboard), ``token``, ``stop()``."""

    host: str
    port: int
    token: str
    app: ConsoleApp
    supervisor: SupervisorHandle

    @property
    def url(self) -> str:
        """``http://host:port/`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"http://{host}:{self.port}/"

    async def stop(self, *, timeout: float = 10.0) -> None:
        """Stop serving (the service and its supervisor)."""
        await self.supervisor.stop(timeout=timeout)

    async def __aenter__(self) -> ConsoleServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _free_port(host: str) -> int:
    sock = _bind(host, 0)
    try:
        port: int = sock.getsockname()[1]
        return port
    finally:
        sock.close()


async def serve(
    runtime: Runtime,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    name: str = "bastion-console",
    **options: Any,
) -> ConsoleServer:
    """Serve the console of ``runtime`` on ``host:port`` under its own supervisor.

    Binds 127.0.0.1 unless told otherwise. Listening on any other address needs an
    explicit ``token`` (``ValueError`` otherwise), and then reads need it too.
    ``port=0`` picks a free port. ``options`` go to :func:`console_app`. Raises
    ``StartFailed`` (cause chained) if the port cannot be bound.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int in 0..65535, got {port!r}")
    loopback = is_loopback(host)
    if not loopback and token is None:
        raise ValueError(
            f"refusing to serve the console on {host} without a token: pass token=... "
            "(every request beyond loopback must carry it)"
        )
    if allowed_hosts is None:
        allowed_hosts = LOOPBACK_HOSTS if loopback else ("*",)
    app = console_app(
        runtime,
        token=token,
        allowed_hosts=allowed_hosts,
        reads_need_token=not loopback,
        **options,
    )
    if port == 0:
        port = _free_port(host)  # fixed now, so a restarted service binds the same port
    spec = ChildSpec("http", ConsoleService, (app, host, port), shutdown=GRACEFUL_SHUTDOWN + 5)
    supervisor = await runtime.start_supervisor([spec], name=name)
    return ConsoleServer(host, port, app.token, app, supervisor)
