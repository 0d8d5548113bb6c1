"""Telemetry events → stdlib ``logging``: the one place Bastion's failure records are made.

Attached by default (``import bastion`` attaches it); :func:`stop_logging_events` detaches
it and :func:`log_events` attaches it again. Each record carries ``extra`` fields named
``bastion_*`` (documented in ``docs/observability-traces.md``), including the error
context of the work that caused it: the context attached to the crash reason when there
is one (a handler's exception carries the context of the message it handled), else the
context current where the event was emitted. ``bastion.resilience`` registers how to
read error contexts (:func:`set_context_source`); before that the fields are ``None``.

=================================  =========  ============================
event                              level      logger
=================================  =========  ============================
actor crash                        ERROR      ``bastion.actor``
supervisor restart                 WARNING    ``bastion.supervisor``
supervisor escalation              ERROR      ``bastion.supervisor``
retry gave up / budget exhausted   WARNING    ``bastion.retry``
breaker opened                     WARNING    ``bastion.breaker``
dead letter                        WARNING    ``bastion.dead_letters``
agent state quarantined            ERROR      ``bastion.persistence``
=================================  =========  ============================
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from bastion._core import _event_names, _events

__all__ = [
    "HANDLER_ID",
    "context_fields",
    "log_events",
    "set_context_source",
    "stop_logging_events",
]

HANDLER_ID = "bastion.logging"
_NO_CONTEXT: dict[str, Any] = {
    "bastion_correlation_id": None,
    "bastion_operation_id": None,
    "bastion_operation": None,
    "bastion_operation_path": None,
}
_current: Callable[[], Any] = lambda: None  # noqa: E731 -- replaced by bastion.resilience
_of_error: Callable[[BaseException], Any] = lambda exc: None  # noqa: E731


def set_context_source(
    current: Callable[[], Any], of_error: Callable[[BaseException], Any]
) -> None:
    """How to read the current error context and the one attached to an exception."""
    global _current, _of_error
    _current, _of_error = current, of_error


def context_fields(error: object = None) -> dict[str, Any]:
    """The ``bastion_*`` error-context fields: of ``error`` if it carries one, else current."""
    ctx = _of_error(error) if isinstance(error, BaseException) else None
    if ctx is None and isinstance(error, BaseException) and error.__cause__ is not None:
        ctx = _of_error(error.__cause__)
    if ctx is None:
        ctx = _current()
    if ctx is None:
        return dict(_NO_CONTEXT)
    return {
        "bastion_correlation_id": ctx.correlation_id,
        "bastion_operation_id": ctx.operation_id,
        "bastion_operation": ctx.operation,
        "bastion_operation_path": " > ".join(ctx.path),
    }


def _text(reason: object) -> str:
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return str(reason)


def _log(
    logger: str, level: int, event: str, msg: str, error: object, extra: Mapping[str, Any]
) -> None:
    log = logging.getLogger(logger)
    if not log.isEnabledFor(level):
        return
    fields = {"bastion_event": event, **extra, **context_fields(error)}
    exc_info = error if isinstance(error, BaseException) else None
    log.log(level, msg, exc_info=exc_info, extra=fields)


def _crash(meta: Mapping[str, Any], measurements: Mapping[str, Any]) -> None:
    reason = meta.get("reason")
    _log(
        "bastion.actor",
        logging.ERROR,
        "actor.crash",
        f"{meta.get('actor')} crashed: {_text(reason)}",
        reason,
        {"bastion_actor": meta.get("actor"), "bastion_reason": _text(reason)},
    )


def _restart(meta: Mapping[str, Any], measurements: Mapping[str, Any]) -> None:
    reason = meta.get("reason")
    _log(
        "bastion.supervisor",
        logging.WARNING,
        "supervisor.restart",
        f"{meta.get('supervisor')} restarted child {meta.get('child')!r} ({_text(reason)})",
        reason,
        {
            "bastion_supervisor": meta.get("supervisor"),
            "bastion_child": meta.get("child"),
            "bastion_reason": _text(reason),
        },
    )


def _escalation(meta: Mapping[str, Any], measurements: Mapping[str, Any]) -> None:
    reason = meta.get("reason")
    error = meta.get("error")
    _log(
        "bastion.supervisor",
        logging.ERROR,
        "supervisor.escalation",
        f"{meta.get('supervisor')} gave up: {_text(error)}",
        reason if isinstance(reason, BaseException) else error,
        {
            "bastion_supervisor": meta.get("supervisor"),
            "bastion_child": meta.get("child"),
            "bastion_reason": _text(reason) if reason is not None else _text(error),
        },
    )


def _retry(meta: Mapping[str, Any], measurements: Mapping[str, Any]) -> None:
    outcome = str(meta.get("outcome", ""))
    if not (outcome.startswith("gave_up") or outcome == "budget_exhausted"):
        return
    attempts = measurements.get("attempt")
    _log(
        "bastion.retry",
        logging.WARNING,
        "retry.exhausted",
        f"retry of {meta.get('target')!r} {outcome.replace('_', ' ')} after {attempts} "
        f"attempt(s) (last error: {meta.get('error')})",
        None,
        {
            "bastion_target": meta.get("target"),
            "bastion_outcome": outcome,
            "bastion_attempts": attempts,
            "bastion_reason": meta.get("error"),
        },
    )


def _breaker(meta: Mapping[str, Any], measurements: Mapping[str, Any]) -> None:
    if meta.get("to") != "open":
        return
    _log(
        "bastion.breaker",
        logging.WARNING,
        "breaker.opened",
        f"circuit breaker {meta.get('name')!r} opened (from {meta.get('from')}; failure rate "
        f"{measurements.get('failure_rate')})",
        None,
        {"bastion_breaker": meta.get("name"), "bastion_from_state": meta.get("from")},
    )


def _dead_letter(meta: Mapping[str, Any], measurements: Mapping[str, Any]) -> None:
    _log(
        "bastion.dead_letters",
        logging.WARNING,
        "dead_letter",
        f"dead letter to {meta.get('recipient')}: {meta.get('reason')}",
        None,
        {"bastion_recipient": meta.get("recipient"), "bastion_reason": meta.get("reason")},
    )


def _quarantine(meta: Mapping[str, Any], measurements: Mapping[str, Any]) -> None:
    error = meta.get("error")
    _log(
        "bastion.persistence",
        logging.ERROR,
        "agent.state_quarantined",
        f"state of {meta.get('agent', meta.get('name'))} in {meta.get('namespace')!r} "
        f"quarantined: {_text(error)}",
        error,
        {
            "bastion_agent": meta.get("agent", meta.get("name")),
            "bastion_namespace": meta.get("namespace"),
            "bastion_reason": _text(error),
        },
    )


_ROUTES: dict[tuple[str, ...], Callable[[Mapping[str, Any], Mapping[str, Any]], None]] = {
    _event_names.ACTOR_CRASH: _crash,
    _event_names.SUPERVISOR_RESTART: _restart,
    _event_names.SUPERVISOR_ESCALATION: _escalation,
    _event_names.RETRY_ATTEMPT: _retry,
    _event_names.BREAKER_STATE_CHANGE: _breaker,
    _event_names.DEAD_LETTER: _dead_letter,
    _event_names.AGENT_STATE_QUARANTINED: _quarantine,
}


def _handle(
    event: tuple[str, ...], measurements: Mapping[str, Any], metadata: Mapping[str, Any]
) -> None:
    _ROUTES[event](metadata, measurements)


def log_events() -> None:
    """Attach the event → logging bridge (attached by default; idempotent)."""
    if HANDLER_ID not in _events.attached_handlers():
        _events.attach(HANDLER_ID, tuple(_ROUTES), _handle)


def stop_logging_events() -> bool:
    """Detach the bridge: Bastion then logs none of these records. ``False`` if detached."""
    return _events.detach(HANDLER_ID)
