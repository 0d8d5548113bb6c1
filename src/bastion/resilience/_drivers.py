"""Exception tables of the drivers Bastion supports: sqlite3, httpx, psycopg, redis, msgspec.

Each loader imports its driver and returns ``{exception class: rule}`` covering every
exception class the driver exports (a test checks that). Loaders run only when an
exception of that driver is classified, so a missing driver costs nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from bastion._core._errors import BastionError, BusinessError, ValidationError
from bastion.resilience._classify import Rule, http_status_rule, rule
from bastion.resilience._errors import (
    DatabaseError,
    DecodeError,
    IntegrityViolation,
    NetworkError,
    OperationTimeout,
    UnexpectedError,
)

__all__ = ["DRIVERS", "exception_classes"]

_BUG = rule(UnexpectedError)
_DB_FATAL = rule(DatabaseError, retryable=False)
_DB_TRANSIENT = rule(DatabaseError, retryable=True)


def exception_classes(module: ModuleType) -> list[type[BaseException]]:
    """The public exception classes ``module`` defines itself (not ones it imports)."""
    root = module.__name__.partition(".")[0]
    return [
        value
        for name, value in vars(module).items()
        if not name.startswith("_")
        and inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__.partition(".")[0] == root
    ]


def _by_name(module: ModuleType, names: dict[str, Rule]) -> dict[type[BaseException], Rule]:
    """Resolve ``{class name: rule}`` against ``module`` (names this version lacks skipped)."""
    return {getattr(module, n): r for n, r in names.items() if hasattr(module, n)}


# -- sqlite3 ------------------------------------------------------------------------


def _sqlite_rule(into: Rule) -> Rule:
    def build(exc: BaseException) -> BastionError:
        err = into(exc)
        name = getattr(exc, "sqlite_errorname", None)
        if name is not None:
            err.context["sqlite_errorname"] = name
        return err

    return build


def sqlite3_rules() -> dict[type[BaseException], Rule]:
    """Rules for every ``sqlite3`` exception class, from persistence's one table."""
    import sqlite3

    from bastion.persistence._sqlite_errors import SQLITE_ERRORS, SQLiteFailure, classify

    into: dict[SQLiteFailure, Rule] = {
        SQLiteFailure.TRANSIENT: rule(DatabaseError, retryable=True, code="sqlite_transient"),
        SQLiteFailure.FATAL: rule(DatabaseError, retryable=False, code="sqlite_fatal"),
        SQLiteFailure.INTEGRITY: rule(IntegrityViolation),
        SQLiteFailure.DATA: rule(ValidationError, code="sqlite_data"),
        SQLiteFailure.PROGRAMMING: rule(DatabaseError, retryable=False, code="sqlite_programming"),
    }

    def by_meaning(exc: BaseException) -> BastionError:
        return into[classify(exc)](exc)

    return _by_name(sqlite3, dict.fromkeys(SQLITE_ERRORS, _sqlite_rule(by_meaning)))


# -- httpx --------------------------------------------------------------------------


def _httpx_status(exc: BaseException) -> BastionError:
    response: Any = getattr(exc, "response", None)
    status = getattr(response, "status_code", 0)
    return http_status_rule(status if isinstance(status, int) else 0, exc)


def httpx_rules() -> dict[type[BaseException], Rule]:
    """Rules for every ``httpx`` exception class."""
    import httpx

    net, net_fatal = rule(NetworkError, retryable=True), rule(NetworkError, retryable=False)
    timeout = rule(OperationTimeout)
    names: dict[str, Rule] = {
        "HTTPError": net_fatal,
        "RequestError": net,
        "TransportError": net,
        "TimeoutException": timeout,
        "ConnectTimeout": timeout,
        "ReadTimeout": timeout,
        "WriteTimeout": timeout,
        "PoolTimeout": timeout,
        "NetworkError": net,
        "ConnectError": net,
        "ReadError": net,
        "WriteError": net,
        "CloseError": net,
        "ProxyError": net,
        "ProtocolError": net_fatal,
        "LocalProtocolError": net_fatal,
        "RemoteProtocolError": net,
        "UnsupportedProtocol": rule(ValidationError, code="unsupported_protocol"),
        "DecodingError": rule(DecodeError),
        "TooManyRedirects": net_fatal,
        "HTTPStatusError": _httpx_status,
        "InvalidURL": rule(ValidationError, code="invalid_url"),
        "CookieConflict": _BUG,
        "StreamError": _BUG,
        "StreamConsumed": _BUG,
        "StreamClosed": _BUG,
        "ResponseNotRead": _BUG,
        "RequestNotRead": _BUG,
    }
    return _by_name(httpx, names)


# -- psycopg ------------------------------------------------------------------------

# SQLSTATE classes (first two characters); full codes override. Every class psycopg
# defines is listed (a test checks that).
_SQLSTATE_CLASSES: dict[str, Rule] = {
    **{k: _DB_FATAL for k in (
        "02", "03", "09", "0A", "0B", "0F", "0L", "0P", "0Z", "10", "20", "21", "24", "25",
        "26", "27", "28", "2B", "2D", "2F", "34", "38", "39", "3B", "3D", "3F", "42", "44",
        "53", "54", "55", "72", "F0", "HV", "P0", "XX",
    )},
    "08": rule(DatabaseError, retryable=True, code="db_connection"),
    "22": rule(ValidationError, code="db_data"),
    "23": rule(IntegrityViolation),
    "40": _DB_FATAL,
    "57": _DB_TRANSIENT,
    "58": _DB_TRANSIENT,
}  # fmt: skip
_SQLSTATE_CODES: dict[str, Rule] = {
    "40001": rule(DatabaseError, retryable=True, code="serialization_failure"),
    "40P01": rule(DatabaseError, retryable=True, code="deadlock_detected"),
    "40002": rule(IntegrityViolation),
    "53300": rule(DatabaseError, retryable=True, code="too_many_connections"),
    "55P03": rule(DatabaseError, retryable=True, code="lock_not_available"),
    "57014": rule(OperationTimeout, code="query_canceled"),
    "P0001": rule(BusinessError, code="raise_exception"),
}


def sqlstate_rule(sqlstate: str) -> Rule | None:
    """The rule for a SQLSTATE code, by full code then by class."""
    return _SQLSTATE_CODES.get(sqlstate) or _SQLSTATE_CLASSES.get(sqlstate[:2])


def _by_sqlstate(fallback: Rule) -> Rule:
    def classify(exc: BaseException) -> BastionError:
        sqlstate = getattr(exc, "sqlstate", None)
        found = sqlstate_rule(sqlstate) if isinstance(sqlstate, str) else None
        err = (found or fallback)(exc)
        if isinstance(sqlstate, str):
            err.context["sqlstate"] = sqlstate
        return err

    return classify


def psycopg_rules() -> dict[type[BaseException], Rule]:
    """Rules for psycopg's DB-API classes and own exceptions; SQLSTATE decides first."""
    import psycopg
    import psycopg.errors

    names: dict[str, Rule] = {
        "Warning": _by_sqlstate(_DB_FATAL),
        "Error": _by_sqlstate(_DB_FATAL),
        "InterfaceError": _by_sqlstate(_DB_FATAL),
        "DatabaseError": _by_sqlstate(_DB_FATAL),
        "DataError": _by_sqlstate(rule(ValidationError, code="db_data")),
        "OperationalError": _by_sqlstate(_DB_TRANSIENT),
        "IntegrityError": _by_sqlstate(rule(IntegrityViolation)),
        "InternalError": _by_sqlstate(_DB_FATAL),
        "ProgrammingError": _by_sqlstate(_DB_FATAL),
        "NotSupportedError": _by_sqlstate(_DB_FATAL),
        "ConnectionTimeout": rule(OperationTimeout, code="db_connection_timeout"),
        "CancellationTimeout": rule(OperationTimeout, code="db_cancellation_timeout"),
        "PipelineAborted": _DB_TRANSIENT,
        "Rollback": _BUG,  # flow control of `transaction()`; escaping it is a bug
    }
    return {**_by_name(psycopg.errors, names), **_by_name(psycopg, names)}


# -- redis --------------------------------------------------------------------------


def redis_rules() -> dict[type[BaseException], Rule]:
    """Rules for every ``redis.exceptions`` class."""
    import redis.exceptions

    transient, auth = _DB_TRANSIENT, rule(DatabaseError, retryable=False, code="db_auth")
    names: dict[str, Rule] = {
        **{n: _DB_FATAL for n in (
            "RedisError", "ResponseError", "InvalidResponse", "ExecAbortError", "NoScriptError",
            "OutOfMemoryError", "ModuleError", "NoSuchFieldsetError", "LockError",
            "LockNotOwnedError", "RedisClusterException", "ClusterError",
            "ClusterCrossSlotError", "CrossSlotTransactionError", "PubSubError",
        )},
        **{n: transient for n in (
            "ConnectionError", "BusyLoadingError", "ReadOnlyError", "ClusterDownError",
            "TryAgainError", "MasterDownError", "AskError", "MovedError",
            "SlotNotCoveredError", "MaxConnectionsError", "WatchError",
        )},
        **{n: auth for n in (
            "AuthenticationError", "AuthorizationError", "NoPermissionError",
            "AuthenticationWrongNumberOfArgsError", "ExternalAuthProviderError",
        )},
        "TimeoutError": rule(OperationTimeout, code="db_timeout"),
        "DataError": rule(ValidationError, code="db_data"),
        "ChildDeadlockedError": _BUG,
        "InvalidPipelineStack": _BUG,
        "IncorrectPolicyType": _BUG,
    }  # fmt: skip
    return _by_name(redis.exceptions, names)


# -- msgspec ------------------------------------------------------------------------


def msgspec_rules() -> dict[type[BaseException], Rule]:
    """Rules for every ``msgspec`` exception class."""
    import msgspec

    return _by_name(
        msgspec,
        {
            "MsgspecError": _BUG,
            "EncodeError": rule(ValidationError, code="encode_error"),
            "DecodeError": rule(DecodeError),
            "ValidationError": rule(ValidationError, code="schema_mismatch"),
        },
    )


DRIVERS: dict[str, Callable[[], dict[type[BaseException], Rule]]] = {
    "sqlite3": sqlite3_rules,
    "httpx": httpx_rules,
    "psycopg": psycopg_rules,
    "redis": redis_rules,
    "msgspec": msgspec_rules,
}
