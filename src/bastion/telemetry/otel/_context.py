"""Where the current OpenTelemetry context lives, read and set without the API's frames.

``opentelemetry.context.get_current()``/``attach()``/``detach()`` each add two Python
calls around one ``ContextVar`` operation. With the default runtime context
(``ContextVarsRuntimeContext``) Bastion uses that ``ContextVar``'s own C-level methods;
with another (``OTEL_PYTHON_CONTEXT``) it uses the API's functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace.propagation import _SPAN_KEY

__all__ = [
    "EMPTY",
    "SPAN_KEY",
    "get_current",
    "reset_current",
    "restore",
    "set_current",
]

EMPTY = Context()
SPAN_KEY = _SPAN_KEY  # the key of the current span in a Context

get_current: Callable[[], Context]
set_current: Callable[[Context], Any]
reset_current: Callable[[Any], None]

_runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
if isinstance(_runtime, ContextVarsRuntimeContext):
    _var = _runtime._current_context  # the ContextVar behind get_current()/attach()
    get_current, set_current, reset_current = _var.get, _var.set, _var.reset
else:  # pragma: no cover - another runtime context configured
    get_current, set_current, reset_current = (
        otel_context.get_current,
        otel_context.attach,
        otel_context.detach,
    )


def restore(token: Any) -> None:
    """Make current again what was current before ``set_current`` returned ``token``."""
    try:
        reset_current(token)
    except (ValueError, RuntimeError):  # used already, or set in another task's context
        set_current(EMPTY)
