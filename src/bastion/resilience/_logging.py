"""Error context in logs: a ``logging.Filter`` and a structlog processor.

Both add the fields of the current :class:`~bastion.resilience.ErrorContext` (``None``
outside any scope) under two spellings: the short names ``operation``,
``operation_id``, ``correlation_id``, ``operation_path`` and ``breadcrumbs``, and the
``bastion_*`` names that Bastion's own failure records carry (``bastion_correlation_id``,
``bastion_operation_id``, ``bastion_operation``, ``bastion_operation_path``; see
:mod:`bastion.telemetry._logging`). When the record or event logs an exception that left
an :func:`~bastion.resilience.error_scope` (or a handler of a message that carried a
context), the fields describe the scope it was raised in (``log.exception(...)`` after
the scope has exited still says where it failed). A record or event that already
carries ``bastion_*`` fields keeps them and its short names are filled from them, so one
formatter shows the right request for Bastion's records and the application's.

The structlog processor is a plain ``(logger, method_name, event_dict) -> event_dict``
callable, structlog's processor protocol, so it needs no structlog import; the
``bastion[structlog]`` extra installs the structlog versions it is tested with (CI runs
it at the declared floor).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

from bastion.resilience._context import ErrorContext, current_context, error_context_of

__all__ = ["ErrorContextFilter", "structlog_processor"]

FIELDS = ("operation", "operation_id", "correlation_id", "operation_path", "breadcrumbs")
#: short name -> the ``bastion_*`` name of the same field
BASTION_FIELDS = {
    "operation": "bastion_operation",
    "operation_id": "bastion_operation_id",
    "correlation_id": "bastion_correlation_id",
    "operation_path": "bastion_operation_path",
}


def _logged_exception(exc_info: object) -> BaseException | None:
    """The exception a record/event logs: ``True`` (the one being handled), an exception,
    or an ``(type, value, traceback)`` tuple, as logging and structlog accept them."""
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        value = exc_info[1]
        return value if isinstance(value, BaseException) else None
    return None


def _fields(exc_info: object = None) -> dict[str, Any]:
    exc = _logged_exception(exc_info)
    ctx: ErrorContext | None = None if exc is None else error_context_of(exc)
    if ctx is None:
        ctx = current_context()
    if ctx is None:
        fields = dict.fromkeys(FIELDS)
    else:
        fields = {
            "operation": ctx.operation,
            "operation_id": ctx.operation_id,
            "correlation_id": ctx.correlation_id,
            "operation_path": " > ".join(ctx.path),
            "breadcrumbs": [crumb.name for crumb in ctx.breadcrumbs],
        }
    for short, long in BASTION_FIELDS.items():
        fields[long] = fields[short]
    return fields


def _merge(fields: dict[str, Any], carried: MutableMapping[str, Any]) -> dict[str, Any]:
    """Prefer error-context fields the record already carries (``bastion_*``, set)."""
    carried_id = carried.get("bastion_operation_id")
    if carried_id is None or carried_id == fields["bastion_operation_id"]:
        return fields  # nothing carried, or this very context (a second filter pass)
    for short, long in BASTION_FIELDS.items():
        fields[short] = fields[long] = carried[long]
    fields["breadcrumbs"] = None
    return fields


class ErrorContextFilter(logging.Filter):
    """Add the current error context to every record (never drops a record)::

    handler.addFilter(ErrorContextFilter())
    logging.Formatter("%(correlation_id)s %(operation_path)s %(message)s")
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set the context fields on ``record``; always ``True``."""
        for key, value in _merge(_fields(record.exc_info), record.__dict__).items():
            setattr(record, key, value)
        return True


def structlog_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor adding the error-context fields (keys already set win).

    Put it before structlog's exception renderers (``format_exc_info``,
    ``dict_tracebacks``), which replace ``exc_info``.
    """
    for key, value in _merge(_fields(event_dict.get("exc_info")), event_dict).items():
        event_dict.setdefault(key, value)
    return event_dict
