"""``normalize``: turn any exception into one of the Bastion error tree.

Rules are looked up along the exception's MRO in an explicit table: the standard
library's entries here, each supported driver's (sqlite3, httpx, psycopg, redis,
msgspec) in :mod:`._drivers`, loaded the first time one of that driver's exceptions is
seen (the driver is imported already then). No rule means a bug: ``UnexpectedError``.
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
import ssl
import urllib.error
from collections.abc import Callable
from typing import cast

from bastion._core._errors import (
    BastionError,
    BusinessError,
    ValidationError,
)
from bastion.resilience._context import error_context_of
from bastion.resilience._errors import (
    DecodeError,
    JSONError,
    NetworkError,
    OperationTimeout,
    UnexpectedError,
)

__all__ = ["Rule", "http_status_rule", "normalize", "register_error", "rule", "rule_for"]

Rule = Callable[[BaseException], BastionError]


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, for error messages."""
    text = str(exc)
    return f"{type(exc).__qualname__}: {text}" if text else type(exc).__qualname__


def rule(
    into: type[BastionError], *, retryable: bool | None = None, code: str | None = None
) -> Rule:
    """A rule building ``into(describe(exc), retryable=..., code=...)``."""

    def build(exc: BaseException) -> BastionError:
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        return into(describe(exc), code=code, retryable=retryable, context={"exception": kind})

    return build


_TRANSIENT_STATUS = frozenset({408, 425, 429})


def http_status_rule(status: int, exc: BaseException) -> BastionError:
    """Classify an HTTP error status: 5xx, 408, 425 and 429 are retryable network errors;
    400 and 422 are validation errors; other 4xx are business errors."""
    code = f"http_{status}"
    if status >= 500 or status in _TRANSIENT_STATUS:
        return rule(NetworkError, retryable=True, code=code)(exc)
    if status in (400, 422):
        return rule(ValidationError, code=code)(exc)
    if 400 <= status < 500:
        return rule(BusinessError, code=code)(exc)
    return rule(NetworkError, retryable=False, code=code)(exc)


_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ENETDOWN", "ENETUNREACH", "ENETRESET", "EHOSTDOWN", "EHOSTUNREACH",
        "ECONNABORTED", "ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAGAIN",
    )
    if hasattr(errno, name)
)  # fmt: skip


def _os_error(exc: BaseException) -> BastionError:
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return rule(NetworkError, retryable=True, code="network_os_error")(exc)
    return rule(UnexpectedError)(exc)


def _url_error(exc: BaseException) -> BastionError:
    if isinstance(exc, urllib.error.HTTPError):
        return http_status_rule(exc.code, exc)
    return rule(NetworkError, retryable=True)(exc)


_STDLIB: dict[type[BaseException], Rule] = {
    TimeoutError: rule(OperationTimeout),
    ConnectionError: rule(NetworkError, retryable=True),
    OSError: _os_error,
    socket.gaierror: rule(NetworkError, retryable=True, code="dns_error"),
    socket.herror: rule(NetworkError, retryable=True, code="dns_error"),
    ssl.SSLError: rule(NetworkError, retryable=True, code="tls_error"),
    ssl.SSLCertVerificationError: rule(NetworkError, retryable=False, code="tls_certificate"),
    http.client.HTTPException: rule(NetworkError, retryable=True, code="http_protocol"),
    urllib.error.URLError: _url_error,
    json.JSONDecodeError: rule(JSONError),
    UnicodeError: rule(DecodeError),
}

_table: dict[type[BaseException], Rule] = dict(_STDLIB)
_cache: dict[type[BaseException], Rule | None] = {}
_loaded_drivers: set[str] = set()


def _load_driver_rules(exc_type: type[BaseException]) -> None:
    from bastion.resilience._drivers import DRIVERS

    for klass in exc_type.__mro__:
        root = klass.__module__.partition(".")[0]
        if root in DRIVERS and root not in _loaded_drivers:
            _loaded_drivers.add(root)
            for driver_type, driver_rule in DRIVERS[root]().items():
                _table.setdefault(driver_type, driver_rule)


def rule_for(exc_type: type[BaseException]) -> Rule | None:
    """The rule that classifies ``exc_type`` (nearest entry along its MRO), if any."""
    try:
        return _cache[exc_type]
    except KeyError:
        pass
    _load_driver_rules(exc_type)
    found = next((_table[k] for k in exc_type.__mro__ if k in _table), None)
    _cache[exc_type] = found
    return found


def mapped_types() -> frozenset[type[BaseException]]:
    """Exception types with an explicit rule (after loading every importable driver)."""
    from bastion.resilience._drivers import DRIVERS

    for root, load in DRIVERS.items():
        if root not in _loaded_drivers:
            try:
                rules = load()
            except ImportError:
                continue
            _loaded_drivers.add(root)
            for driver_type, driver_rule in rules.items():
                _table.setdefault(driver_type, driver_rule)
    return frozenset(_table)


def register_error(
    exc_type: type[BaseException],
    into: type[BastionError] | Rule,
    *,
    retryable: bool | None = None,
    code: str | None = None,
) -> None:
    """Classify ``exc_type`` (and its subclasses without a nearer rule) as ``into``.

    ``into`` is a Bastion error class or a rule ``(exc) -> BastionError``::

        register_error(PaymentDeclined, BusinessError, code="declined")
    """
    if not (isinstance(exc_type, type) and issubclass(exc_type, Exception)):
        raise TypeError(f"exc_type must be an Exception subclass, got {exc_type!r}")
    if issubclass(exc_type, BastionError):
        raise TypeError(f"{exc_type.__qualname__} is a Bastion error already")
    if isinstance(into, type) and issubclass(into, BastionError):
        _table[exc_type] = rule(into, retryable=retryable, code=code)
    elif callable(into) and retryable is None and code is None:
        _table[exc_type] = cast(Rule, into)
    else:
        raise TypeError(f"into must be a BastionError subclass or a rule, got {into!r}")
    _cache.clear()


def normalize(exc: BaseException) -> BastionError:
    """Classify ``exc`` as a Bastion error. Bastion errors are returned unchanged.

    The result chains the original as ``__cause__`` and carries its error context.
    An exception without a rule becomes :class:`UnexpectedError` (a bug). Cancellation,
    ``KeyboardInterrupt`` and ``SystemExit`` are never normalized: ``TypeError``.
    """
    if isinstance(exc, BastionError):
        return exc
    if not isinstance(exc, Exception):
        raise TypeError(f"{describe(exc)} is not an Exception; re-raise it, never classify it")
    found = rule_for(type(exc))
    err = found(exc) if found is not None else rule(UnexpectedError)(exc)
    err.__cause__ = exc
    ctx = error_context_of(exc)
    if ctx is not None:
        err.context.setdefault("error_context", ctx.as_dict())
        err.__bastion_error_context__ = ctx  # type: ignore[attr-defined]
    return err
