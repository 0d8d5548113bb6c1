"""The one rooted exception tree of Bastion.

::

    BastionError                       category, severity, code, retryable, context
    ├── ExpectedError                  routed to the caller; the actor keeps running
    │   ├── ValidationError            bad input (category VALIDATION)
    │   └── BusinessError              a domain rule said no (category BUSINESS)
    ├── InfrastructureError            a dependency failed; retryable by default
    │   ├── CallTimeout                a call's deadline passed (also a TimeoutError)
    │   └── MailboxFull                a bounded mailbox refused a message
    └── ActorError                     runtime/system failures (category SYSTEM)
        ├── ActorNotAlive              the target is dead, stopped or unknown
        │   └── NoSuchActor            no actor is registered under that name
        ├── ActorCrashed               the handler crashed; the cause is chained
        ├── NameTaken                  the name is registered already
        ├── StartFailed                ``on_start`` raised; the cause is chained
        ├── LinkedExit                 a linked actor exited abnormally; the cause is chained
        ├── RuntimeClosed              the runtime is shutting down or closed
        └── SupervisorError            invalid specs, or the restart intensity was exceeded
            └── RestartIntensityExceeded

Only :class:`ExpectedError` and its subclasses are routed back to a caller without
crashing the actor. Everything else raised by a handler crashes it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "ActorCrashed",
    "ActorError",
    "ActorNotAlive",
    "BastionError",
    "BusinessError",
    "CallTimeout",
    "Category",
    "ExpectedError",
    "InfrastructureError",
    "LinkedExit",
    "MailboxFull",
    "NameTaken",
    "NoSuchActor",
    "RestartIntensityExceeded",
    "RuntimeClosed",
    "Severity",
    "StartFailed",
    "SupervisorError",
    "ValidationError",
]


class Category(enum.StrEnum):
    """What kind of failure an error is; drives retry and routing decisions."""

    VALIDATION = "validation"
    BUSINESS = "business"
    INFRASTRUCTURE = "infrastructure"
    SYSTEM = "system"


class Severity(enum.StrEnum):
    """How bad an error is, for alerting and logs."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class BastionError(Exception):
    """Root of every exception Bastion raises.

    Class attributes give the defaults for a family; any of them can be overridden per
    instance through keyword arguments::

        raise BusinessError("insufficient funds", code="funds", context={"account": 7})
    """

    category: ClassVar[Category] = Category.SYSTEM
    default_severity: ClassVar[Severity] = Severity.MEDIUM
    default_code: ClassVar[str] = "bastion_error"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str = "",
        *,
        code: str | None = None,
        severity: Severity | None = None,
        retryable: bool | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.severity = severity if severity is not None else self.default_severity
        self.retryable = retryable if retryable is not None else self.default_retryable
        self.context: dict[str, Any] = dict(context) if context else {}

    def __reduce__(self) -> Any:  # keep keyword state when copied
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[BastionError], message: str, state: dict[str, Any]) -> BastionError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ExpectedError(BastionError):
    """Base of errors that are part of a handler's contract.

    Raised from a handler, it is returned to the caller and the actor keeps running.
    """

    category = Category.BUSINESS
    default_severity = Severity.LOW
    default_code = "expected"


class ValidationError(ExpectedError):
    """The input was invalid. Never retried."""

    category = Category.VALIDATION
    default_code = "validation"


class BusinessError(ExpectedError):
    """A domain rule refused the operation. Never retried."""

    category = Category.BUSINESS
    default_code = "business"


class InfrastructureError(BastionError):
    """A dependency (network, database, another actor) failed. Retryable by default."""

    category = Category.INFRASTRUCTURE
    default_code = "infrastructure"
    default_retryable = True


class CallTimeout(InfrastructureError, TimeoutError):
    """A call's deadline passed before the reply arrived. A late reply is dropped."""

    default_code = "call_timeout"


class MailboxFull(InfrastructureError):
    """A bounded mailbox is full and the sender asked not to wait."""

    default_code = "mailbox_full"


class ActorError(BastionError):
    """Base of runtime failures around actors."""

    category = Category.SYSTEM
    default_code = "actor_error"


class ActorNotAlive(ActorError):
    """The target actor is not running (dead, stopped or never started)."""

    default_code = "actor_not_alive"


class NoSuchActor(ActorNotAlive):
    """No actor is registered under the given name."""

    default_code = "no_such_actor"


class ActorCrashed(ActorError):
    """The actor crashed while handling a message; ``__cause__`` holds the original."""

    default_code = "actor_crashed"
    default_severity = Severity.HIGH


class NameTaken(ActorError):
    """Another live actor is registered under that name."""

    default_code = "name_taken"


class StartFailed(ActorError):
    """An actor's ``on_start`` raised; ``__cause__`` holds the original."""

    default_code = "start_failed"
    default_severity = Severity.HIGH


class LinkedExit(ActorError):
    """A linked actor exited abnormally and this actor does not trap exits."""

    default_code = "linked_exit"


class RuntimeClosed(ActorError):
    """The runtime is shutting down or closed and accepts no new work."""

    default_code = "runtime_closed"


class SupervisorError(ActorError):
    """An invalid child spec or strategy, or a supervisor that gave up."""

    default_code = "supervisor_error"


class RestartIntensityExceeded(SupervisorError):
    """More restarts than ``max_restarts`` within ``max_seconds``: the supervisor escalates."""

    default_code = "restart_intensity_exceeded"
    default_severity = Severity.CRITICAL
