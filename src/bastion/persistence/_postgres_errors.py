"""What each psycopg error means for the PostgreSQL store: retry, or give up.

The same SQLSTATE reading as :func:`bastion.resilience.normalize` (a test keeps the two
in step): connection exceptions (class ``08``), operator intervention (``57``: the server
shutting down, a backend terminated, a statement cancelled by its timeout), system errors
(``58``), serialization failures, deadlocks, too many connections and lock timeouts are
*transient*: the store reconnects and retries them until its deadline. Everything else
(a constraint, bad data, a bug in a statement) is not. A psycopg ``OperationalError``
without a SQLSTATE (the socket closed under it) is transient.
"""

from __future__ import annotations

from bastion.persistence._errors import StoreError

__all__ = ["TRANSIENT_SQLSTATE_CLASSES", "TRANSIENT_SQLSTATES", "is_transient", "store_error"]

#: SQLSTATE classes (first two characters) of transient conditions.
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "57", "58"})
#: Full SQLSTATE codes of transient conditions in otherwise permanent classes.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "53300", "55P03"})


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the operation that raised ``exc`` (a psycopg error) may succeed."""
    import psycopg

    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate in TRANSIENT_SQLSTATES or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
    return isinstance(exc, psycopg.OperationalError | psycopg.errors.PipelineAborted)


def store_error(exc: BaseException, what: str = "postgres") -> StoreError:
    """The store's error for a psycopg error, retryable only if the failure is transient."""
    sqlstate = getattr(exc, "sqlstate", None)
    context: dict[str, object] = {"postgres_error": type(exc).__name__}
    if isinstance(sqlstate, str):
        context["sqlstate"] = sqlstate
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    err = StoreError(f"{what}: {text}", retryable=is_transient(exc), context=context)
    err.__cause__ = exc
    return err
