"""Resilience: one error model, error context, boundaries, retry, breaker, bulkhead, isolation.

See ``docs/resilience.md``. Everything here builds on the one exception tree of
:mod:`bastion` (``BastionError`` and its categories) and on the runtime clock. The
deprecated thread-local error-context mode is not part of this namespace: it lives in
:mod:`bastion.resilience.legacy`.
"""

from __future__ import annotations

from bastion._public import publish
from bastion.resilience import _carry  # noqa: F401 -- registers the error-context carrier
from bastion.resilience._boundary import (
    Boundary,
    boundary,
    database_boundary,
    json_boundary,
    network_boundary,
    protect_critical_path,
    protect_critical_path_async,
)
from bastion.resilience._breaker import BreakerState, BreakerStatistics, CircuitBreaker
from bastion.resilience._budget import RetryBudget, RetryBudgetStatistics, retry_budget
from bastion.resilience._bulkhead import Bulkhead, BulkheadStatistics
from bastion.resilience._classify import normalize, register_error
from bastion.resilience._context import (
    Breadcrumb,
    ErrorContext,
    add_breadcrumb,
    add_metadata,
    current_context,
    error_context_of,
    error_scope,
)
from bastion.resilience._errors import (
    BulkheadFull,
    CircuitOpen,
    DatabaseError,
    DecodeError,
    IntegrityViolation,
    IsolatedFailure,
    JSONError,
    NetworkError,
    OperationTimeout,
    RetryBudgetExhausted,
    UnexpectedError,
)
from bastion.resilience._isolate import isolate
from bastion.resilience._logging import ErrorContextFilter, structlog_processor
from bastion.resilience._registry import BreakerRegistry, breakers, circuit_breaker
from bastion.resilience._retry import Retry, instant_retries, is_retryable
from bastion.resilience._window import CountWindow, TimeWindow

__all__ = [
    "add_breadcrumb",
    "add_metadata",
    "Boundary",
    "boundary",
    "Breadcrumb",
    "BreakerRegistry",
    "breakers",
    "BreakerState",
    "BreakerStatistics",
    "Bulkhead",
    "BulkheadFull",
    "BulkheadStatistics",
    "circuit_breaker",
    "CircuitBreaker",
    "CircuitOpen",
    "CountWindow",
    "current_context",
    "database_boundary",
    "DatabaseError",
    "DecodeError",
    "error_context_of",
    "error_scope",
    "ErrorContext",
    "ErrorContextFilter",
    "instant_retries",
    "IntegrityViolation",
    "is_retryable",
    "isolate",
    "IsolatedFailure",
    "json_boundary",
    "JSONError",
    "network_boundary",
    "NetworkError",
    "normalize",
    "OperationTimeout",
    "protect_critical_path",
    "protect_critical_path_async",
    "register_error",
    "Retry",
    "retry_budget",
    "RetryBudget",
    "RetryBudgetExhausted",
    "RetryBudgetStatistics",
    "structlog_processor",
    "TimeWindow",
    "UnexpectedError",
]

publish(globals(), "bastion.resilience")
