"""What each ``sqlite3`` error means: the one table, shared by the store and ``normalize``.

The SQLite store turns a driver error into :class:`StoreError` (retryable only when the
condition is transient); :func:`bastion.resilience.normalize` turns the same error into
its own classes from the same :class:`SQLiteFailure`. One table, so the two never
disagree about whether retrying a SQLite failure can help.
"""

from __future__ import annotations

import enum
import sqlite3

from bastion.persistence._errors import StoreError

__all__ = ["SQLITE_ERRORS", "TRANSIENT_RESULT_CODES", "SQLiteFailure", "classify", "store_error"]


class SQLiteFailure(enum.StrEnum):
    """The meaning of a ``sqlite3`` exception."""

    TRANSIENT = "transient"  #: busy, locked, I/O, cannot open: retrying may succeed
    FATAL = "fatal"  #: the database or the driver failed in a way retrying will not fix
    INTEGRITY = "integrity"  #: a constraint (unique, foreign key, check) refused the write
    DATA = "data"  #: a value the database cannot hold
    PROGRAMMING = "programming"  #: the SQL or the API was misused: a bug


#: Primary result codes (``errorcode & 0xff``) of transient conditions: BUSY, LOCKED,
#: IOERR, CANTOPEN, PROTOCOL. https://www.sqlite.org/rescode.html
TRANSIENT_RESULT_CODES = frozenset({5, 6, 10, 14, 15})

#: Every exception class ``sqlite3`` exports, by name. ``OperationalError`` is decided by
#: its result code (:func:`classify`): transient codes, or no code at all, are transient.
SQLITE_ERRORS: dict[str, SQLiteFailure] = {
    "Warning": SQLiteFailure.FATAL,
    "Error": SQLiteFailure.FATAL,
    "InterfaceError": SQLiteFailure.FATAL,
    "DatabaseError": SQLiteFailure.FATAL,
    "DataError": SQLiteFailure.DATA,
    "OperationalError": SQLiteFailure.TRANSIENT,
    "IntegrityError": SQLiteFailure.INTEGRITY,
    "InternalError": SQLiteFailure.FATAL,
    "ProgrammingError": SQLiteFailure.PROGRAMMING,
    "NotSupportedError": SQLiteFailure.FATAL,
}


def classify(exc: BaseException) -> SQLiteFailure:
    """The meaning of a ``sqlite3`` exception (nearest class of the table along its MRO)."""
    for klass in type(exc).__mro__:
        found = SQLITE_ERRORS.get(klass.__name__) if klass.__module__ == "sqlite3" else None
        if found is SQLiteFailure.TRANSIENT:
            code = getattr(exc, "sqlite_errorcode", None)
            transient = code is None or (code & 0xFF) in TRANSIENT_RESULT_CODES
            return SQLiteFailure.TRANSIENT if transient else SQLiteFailure.FATAL
        if found is not None:
            return found
    return SQLiteFailure.FATAL


def store_error(exc: sqlite3.Error) -> StoreError:
    """The store's error for a driver error: retryable only if the failure is transient."""
    failure = classify(exc)
    context = {"sqlite_error": type(exc).__name__, "sqlite_failure": failure.value}
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:
        context["sqlite_errorname"] = name
    err = StoreError(
        f"sqlite: {exc}", retryable=failure is SQLiteFailure.TRANSIENT, context=context
    )
    err.__cause__ = exc
    return err
