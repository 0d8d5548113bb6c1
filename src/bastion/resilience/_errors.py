"""Resilience errors: the branches the resilience layer adds to the one exception tree.

::

    BastionError
    ├── ExpectedError
    │   ├── ValidationError
    │   │   └── DecodeError             undecodable payload (bytes, text)
    │   │       └── JSONError           invalid JSON
    │   └── BusinessError
    │       └── IntegrityViolation      a database constraint refused the write
    ├── InfrastructureError             retryable unless said otherwise
    │   ├── NetworkError                connection, DNS, TLS, transport, 5xx/429
    │   ├── DatabaseError               a database driver failed
    │   ├── OperationTimeout*       an operation's deadline passed
    │   ├── CircuitOpen                 a breaker refused the call (not retryable)
    │   ├── BulkheadFull                a bulkhead refused the call (not retryable)
    │   └── RetryBudgetExhausted        the target's retry budget is spent (not retryable)
    ├── Timeout
    │   └── OperationTimeout*       the same class (``CallTimeout``'s sibling)
    ├── IsolatedFailure                 an isolated operation crashed (category SYSTEM)
    └── UnexpectedError                 ``normalize`` found no rule: a bug (category SYSTEM)

``*``: one class with two parents, like the kernel's ``CallTimeout``.

Every class is defined on top of :mod:`bastion._core._errors`; there is no second root.
"""

from __future__ import annotations

from bastion._core._errors import (
    BastionError,
    BusinessError,
    Category,
    InfrastructureError,
    Severity,
    Timeout,
    ValidationError,
)

__all__ = [
    "BulkheadFull",
    "CircuitOpen",
    "DatabaseError",
    "DecodeError",
    "IntegrityViolation",
    "IsolatedFailure",
    "JSONError",
    "NetworkError",
    "OperationTimeout",
    "RetryBudgetExhausted",
    "UnexpectedError",
]


class NetworkError(InfrastructureError):
    """A network dependency failed: connection, DNS, TLS, transport, or a 5xx/429 answer."""


class DatabaseError(InfrastructureError):
    """A database driver failed. Retryable only for transient conditions (busy, locked, I/O)."""


class OperationTimeout(InfrastructureError, Timeout):
    """An operation's deadline passed: an infrastructure timeout, retryable by default.

    A sibling of :class:`bastion.CallTimeout` (both are :class:`bastion.Timeout`);
    a timed-out call inside an isolated operation is re-raised as this.
    """


class CircuitOpen(InfrastructureError):
    """A circuit breaker is open (or its half-open probes are taken) and refused the call.

    Not retryable: retrying into an open breaker is exactly the storm it prevents.
    ``context["retry_after"]`` says how many seconds until the breaker admits probes.
    """

    default_retryable = False


class BulkheadFull(InfrastructureError):
    """A bulkhead's concurrency slots and wait queue are full, or the wait timed out."""

    default_retryable = False


class RetryBudgetExhausted(InfrastructureError):
    """A retry was due but the target's retry budget is spent. The last error is chained."""

    default_retryable = False


class DecodeError(ValidationError):
    """A payload could not be decoded."""


class JSONError(DecodeError):
    """A payload is not valid JSON."""


class IntegrityViolation(BusinessError):
    """A database constraint (unique, foreign key, check) refused the write. Not retried."""


class IsolatedFailure(BastionError):
    """An operation run by :func:`~bastion.resilience.isolate` crashed; ``__cause__`` holds why."""

    category = Category.SYSTEM
    default_severity = Severity.HIGH


class UnexpectedError(BastionError):
    """:func:`~bastion.resilience.normalize` had no rule for the exception: treat it as a bug.

    Never retried, never caught by a boundary; ``__cause__`` holds the original.
    """

    category = Category.SYSTEM
    default_severity = Severity.HIGH
