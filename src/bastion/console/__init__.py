"""The operator console: an HTTP status and control API and a live web dashboard.

Install the extra (``pip install 'bastion[console]'``: Starlette and uvicorn).

* :func:`serve` runs the console of a runtime on 127.0.0.1 as a supervised service and
  returns a :class:`ConsoleServer` (``url``, ``token``, ``stop()``).
* :func:`console_app` returns the ASGI app, to mount in your own server.
* Every control action needs the bearer token and is written to an :class:`AuditJournal`.

See ``docs/console.md``.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401 -- fail here with the extra's name
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "bastion.console needs Starlette and uvicorn: pip install 'bastion[console]'"
    ) from exc

from bastion._public import publish
from bastion.console._app import ConsoleApp, console_app, new_token
from bastion.console._audit import AuditEntry, AuditJournal
from bastion.console._openapi import openapi_document
from bastion.console._serve import ConsoleServer, ConsoleService, serve

__all__ = [
    "AuditEntry",
    "AuditJournal",
    "console_app",
    "ConsoleApp",
    "ConsoleServer",
    "ConsoleService",
    "new_token",
    "openapi_document",
    "serve",
]

publish(globals(), "bastion.console")
