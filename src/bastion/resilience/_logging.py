"""Error context in logs: a ``logging.Filter`` and a structlog processor.

Both add ``operation``, ``operation_id``, ``correlation_id``, ``operation_path`` and
``breadcrumbs`` of the current :class:`~bastion.resilience.ErrorContext` (``None``
outside any scope). The structlog processor needs no structlog import: it is a plain
``(logger, method_name, event_dict) -> event_dict`` callable.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from bastion.resilience._context import current_context

__all__ = ["ErrorContextFilter", "structlog_processor"]

FIELDS = ("operation", "operation_id", "correlation_id", "operation_path", "breadcrumbs")


def _fields() -> dict[str, Any]:
    ctx = current_context()
    if ctx is None:
        return dict.fromkeys(FIELDS)
    return {
        "operation": ctx.operation,
        "operation_id": ctx.operation_id,
        "correlation_id": ctx.correlation_id,
        "operation_path": " > ".join(ctx.path),
        "breadcrumbs": [crumb.name for crumb in ctx.breadcrumbs],
    }


class ErrorContextFilter(logging.Filter):
    """Add the current error context to every record (never drops a record)::

    handler.addFilter(ErrorContextFilter())
    logging.Formatter("%(correlation_id)s %(operation_path)s %(message)s")
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set the context fields on ``record``; always ``True``."""
        for key, value in _fields().items():
            setattr(record, key, value)
        return True


def structlog_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor adding the error-context fields (keys already set win)."""
    for key, value in _fields().items():
        event_dict.setdefault(key, value)
    return event_dict
