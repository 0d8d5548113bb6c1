"""The one rooted exception tree of Bastion.

::

    BastionError                       category, severity, code, retryable, context
    ├── ExpectedError                  routed to the caller; the actor keeps running
    │   ├── ValidationError            bad input (category VALIDATION)
    │   └── BusinessError              a domain rule said no (category BUSINESS)
    ├── InfrastructureError            a dependency failed; retryable by default
    │   ├── CallTimeout*               a call's deadline passed
    │   └── MailboxFull                a bounded mailbox refused a message
    ├── Timeout                        a deadline passed (also a ``TimeoutError``)
    │   └── CallTimeout*               the same class: an infrastructure timeout
    └── ActorError                     runtime/system failures (category SYSTEM)
        ├── ActorNotAlive              the target is dead, stopped or unknown
        │   └── NoSuchActor            no actor is registered under that name
        ├── ActorCrashed               the handler crashed; the cause is chained
        ├── NameTaken                  the name is registered already
        ├── StartFailed                ``on_start`` raised; the cause is chained
        ├── LinkedExit                 a linked actor exited abnormally; the cause is chained
        ├── RuntimeClosed              the runtime is shutting down or closed
        └── SupervisorError            a supervisor is full, or gave up
            └── RestartIntensityExceeded

``*``: one class with two parents. ``except bastion.Timeout`` catches every deadline
Bastion enforces; only the infrastructure ones (``CallTimeout``, and in
:mod:`bastion.resilience` ``OperationTimeout``) are retryable. The test toolkit's
``WaitTimeout`` is a ``Timeout`` but no ``InfrastructureError``, so no retry policy
retries a failed test wait. Bad arguments are ``ValueError``/``TypeError``, never a
Bastion error.

Only :class:`ExpectedError` and its subclasses are routed back to a caller without
crashing the actor. Everything else raised by a handler crashes it.

``code`` is derived from the class name (``NoSuchActor`` → ``"no_such_actor"``), so a
new class never hand-writes it; an instance may still pass ``code=...``.
"""

from __future__ import annotations

import enum
import re
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
    "Timeout",
    "ValidationError",
    "code_for",
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


_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def code_for(name: str) -> str:
    """The error code of a class called ``name``: ``"JSONError"`` → ``"json_error"``."""
    return _WORD_BOUNDARY.sub("_", name).lower()


class BastionError(Exception):
    """Root of every exception Bastion raises.

    Class attributes give the defaults for a family; any of them can be overridden per
    instance through keyword arguments. ``default_code`` is derived from the class
    name when the class is defined (see :func:`code_for`)::

        raise BusinessError("insufficient funds", code="funds", context={"account": 7})
    """

    category: ClassVar[Category] = Category.SYSTEM
    default_severity: ClassVar[Severity] = Severity.MEDIUM
    default_code: ClassVar[str] = "bastion_error"
    default_retryable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "default_code" in cls.__dict__:
            raise TypeError(
                f"{cls.__qualname__} sets default_code: error codes are derived from the "
                f"class name ({code_for(cls.__name__)!r}); pass code=... per instance instead"
            )
        cls.default_code = code_for(cls.__name__)

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


class ValidationError(ExpectedError):
    """The input was invalid. Never retried."""

    category = Category.VALIDATION


class BusinessError(ExpectedError):
    """A domain rule refused the operation. Never retried."""

    category = Category.BUSINESS


class InfrastructureError(BastionError):
    """A dependency (network, database, another actor) failed. Retryable by default."""

    category = Category.INFRASTRUCTURE
    default_retryable = True


class Timeout(BastionError, TimeoutError):
    """A deadline Bastion enforces passed. Also a builtin ``TimeoutError``.

    Catch this to handle every kind of timeout; whether one is worth retrying depends
    on the subclass (only infrastructure timeouts such as :class:`CallTimeout` are).
    """

    category = Category.SYSTEM


class CallTimeout(InfrastructureError, Timeout):
    """A call's deadline passed before the reply arrived. A late reply is dropped.

    An infrastructure timeout: retryable by default.
    """


class MailboxFull(InfrastructureError):
    """A bounded mailbox is full and the sender asked not to wait."""


class ActorError(BastionError):
    """Base of runtime failures around actors."""

    category = Category.SYSTEM


class ActorNotAlive(ActorError):
    """The target actor is not running (dead, stopped or never started)."""


class NoSuchActor(ActorNotAlive):
    """No actor is registered under the given name."""


class ActorCrashed(ActorError):
    """The actor crashed while handling a message; ``__cause__`` holds the original."""

    default_severity = Severity.HIGH


class NameTaken(ActorError):
    """Another live actor is registered under that name."""


class StartFailed(ActorError):
    """An actor's ``on_start`` raised; ``__cause__`` holds the original."""

    default_severity = Severity.HIGH


class LinkedExit(ActorError):
    """A linked actor exited abnormally and this actor does not trap exits."""


class RuntimeClosed(ActorError):
    """The runtime is shutting down or closed and accepts no new work."""


class SupervisorError(ActorError):
    """A supervisor refused a child (``max_children``; ``restart_child``/``delete_child``
    of a running child) or gave up (restart intensity).

    Invalid specs and options are ``ValueError``/``TypeError``, like every bad argument.
    """


class RestartIntensityExceeded(SupervisorError):
    """More restarts than ``max_restarts`` within ``max_seconds``: the supervisor escalates."""

    default_severity = Severity.CRITICAL
