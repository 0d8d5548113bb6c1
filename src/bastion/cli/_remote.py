"""Talking to a running node through its console API (``--url``, ``--token``).

``bastion flags`` and ``bastion rollout`` work on a state store file (``--db``) or, with
``--url URL`` (or ``$BASTION_CONSOLE_URL``), on a running node through the console's
JSON API: the same reads, and the same audited actions, which the node performs itself
(so its orchestrator and flags service see them at once). Plain ``urllib``, a finite
timeout on every request; the token (``--token`` or ``$BASTION_CONSOLE_TOKEN``) rides in
``Authorization: Bearer``. Failures are :class:`RemoteFailure` with the command's exit
status: :data:`EXIT_REMOTE` (7) when the console cannot be reached or refuses the token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

__all__ = [
    "EXIT_REMOTE",
    "REMOTE_TIMEOUT",
    "RemoteConsole",
    "RemoteFailure",
    "db_option",
    "remote_or_db",
    "url_option",
    "token_option",
]

#: Exit status when the console cannot be reached, or refuses the token.
EXIT_REMOTE = 7
#: Seconds one request may take (connect and answer).
REMOTE_TIMEOUT = 15.0
URL_ENV, TOKEN_ENV = "BASTION_CONSOLE_URL", "BASTION_CONSOLE_TOKEN"

db_option = click.option(
    "--db",
    default=None,
    envvar="BASTION_DB",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite state store file (default: $BASTION_DB); or --url.",
)
url_option = click.option(
    "--url",
    envvar=URL_ENV,
    default=None,
    help=f"A running node's console (default: ${URL_ENV}); instead of --db.",
)
token_option = click.option(
    "--token", envvar=TOKEN_ENV, default=None, help=f"The console's token (${TOKEN_ENV})."
)


class RemoteFailure(Exception):
    """A request failed: ``message`` is one line, ``status`` the exit status."""

    def __init__(self, message: str, status: int, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def remote_or_db(db: Path | None, url: str | None) -> str | None:
    """The console URL to use, or None for ``--db``; a usage error if neither or both."""
    if db is not None and url is not None:
        raise click.UsageError("give --db (a state store file) or --url (a running node), not both")
    if db is None and url is None:
        raise click.UsageError(
            "give --db FILE (or $BASTION_DB) or --url URL ($BASTION_CONSOLE_URL)"
        )
    if url is not None and not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
    return url


class RemoteConsole:
    """A console API client; ``statuses`` maps HTTP errors to the command's exit statuses."""

    def __init__(self, url: str, token: str | None, statuses: dict[int, int]) -> None:
        self.base = url if url.endswith("/") else url + "/"
        self.token = token
        self.statuses = statuses

    def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` (relative to the console); the decoded JSON answer."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._send(urllib.request.Request(self._url(path, query), method="GET"))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON ``body`` to ``path``; the decoded JSON answer."""
        data = json.dumps(body).encode()
        request = urllib.request.Request(self._url(path, ""), data=data, method="POST")
        request.add_header("Content-Type", "application/json")
        return self._send(request)

    def _url(self, path: str, query: str) -> str:
        quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))
        return self.base + quoted + (f"?{query}" if query else "")

    def _send(self, request: urllib.request.Request) -> Any:
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        where = self.base
        try:
            with urllib.request.urlopen(request, timeout=REMOTE_TIMEOUT) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise self._refused(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteFailure(
                f"cannot reach the console at {where}: {reason}", EXIT_REMOTE
            ) from None
        except json.JSONDecodeError:
            raise RemoteFailure(
                f"{where} answered something that is not JSON", EXIT_REMOTE
            ) from None

    def _refused(self, exc: urllib.error.HTTPError) -> RemoteFailure:
        try:
            error = json.loads(exc.read()).get("error", {})
        except (json.JSONDecodeError, AttributeError, OSError):
            error = {}
        message = error.get("message") or exc.reason
        code = error.get("code", "")
        if exc.code in (401, 403):
            hint = "" if self.token else f" (pass --token or set ${TOKEN_ENV})"
            return RemoteFailure(
                f"the console refused the token: {message}{hint}", EXIT_REMOTE, code
            )
        return RemoteFailure(str(message), self.statuses.get(exc.code, EXIT_REMOTE), code)
