"""The console's security gate, in front of every route (a plain ASGI middleware).

* ``Host`` must be one of the allowed hosts (DNS rebinding: a page on attacker.example
  resolving to 127.0.0.1 is refused);
* every ``POST`` needs ``Authorization: Bearer <token>`` (compared in constant time);
  cookies are never read, so a browser cannot be tricked into sending a mutation;
* a ``POST`` carrying an ``Origin`` must come from an allowed host (no CORS, ever);
* when the console listens beyond loopback, reads need the token too.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from bastion.console._http import error_response

__all__ = ["LOOPBACK_HOSTS", "Guard", "is_loopback"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_PUBLIC_READS = ("/", "/openapi.json", "/favicon.ico")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name to bind) is a loopback one."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _hostname(value: str) -> str:
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """Host allowlist, bearer token on mutations (and on reads when asked), Origin check."""

    def __init__(
        self, app: ASGIApp, *, token: str, allowed_hosts: tuple[str, ...], reads_need_token: bool
    ) -> None:
        self.app = app
        self._token = token.encode()
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.reads_need_token = reads_need_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _host_allowed(self, host: str) -> bool:
        return "*" in self.allowed_hosts or _hostname(host.lower()) in self.allowed_hosts

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> ASGIApp | None:
        if not self._host_allowed(headers.get("host", "")):
            return error_response(400, "host_not_allowed", "this Host is not served here")
        method = scope["method"]
        path: str = scope["path"]
        mutation = method not in ("GET", "HEAD", "OPTIONS")
        if mutation:
            origin = headers.get("origin")
            if origin is not None and not self._host_allowed(urlsplit(origin).netloc or "-"):
                return error_response(
                    403, "origin_not_allowed", "cross-origin requests are refused"
                )
        public = path in _PUBLIC_READS or path.startswith("/static/")
        if (mutation or (self.reads_need_token and not public)) and not self._authorized(headers):
            return error_response(
                401,
                "unauthorized",
                "this needs the console's token: send 'Authorization: Bearer <token>'",
                {"WWW-Authenticate": 'Bearer realm="bastion-console"'},
            )
        return None

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials:
            return False
        return secrets.compare_digest(credentials.strip().encode(), self._token)
