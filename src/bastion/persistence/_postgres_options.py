"""The keyword options of :meth:`PostgresStore.open <bastion.persistence.PostgresStore.open>`."""

from __future__ import annotations

from typing import Literal, TypedDict

from bastion._core._durations import positive_seconds

__all__ = ["BatchedCommit", "PostgresStoreOptions", "check_options"]

BatchedCommit = Literal["off", "local", "on"]
_COMMIT_MODES = ("off", "local", "on")


class PostgresStoreOptions(TypedDict, total=False):
    """The keywords of ``PostgresStore.open(dsn, **options)``, typed.

    They mirror the keyword-only parameters of ``PostgresStore.__init__`` (a test keeps
    the two in step), so a type checker rejects a misspelled option.
    """

    schema: str
    max_pending_ops: int
    op_timeout: float
    flush_interval: float
    pool_size: int
    batched_commit: BatchedCommit
    application_name: str


def check_options(
    dsn: object,
    max_pending_ops: int,
    pool_size: int,
    batched_commit: str,
    op_timeout: float,
    flush_interval: float,
) -> None:
    """ValueError (TypeError for a non-number duration) naming the first bad option."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise ValueError(f"dsn must be a PostgreSQL connection string, not {dsn!r}")
    if max_pending_ops < 1:
        raise ValueError("max_pending_ops must be >= 1")
    if pool_size < 1:
        raise ValueError("pool_size must be >= 1")
    if batched_commit not in _COMMIT_MODES:
        raise ValueError(f"batched_commit must be one of {_COMMIT_MODES}, not {batched_commit!r}")
    for label, value in (("op_timeout", op_timeout), ("flush_interval", flush_interval)):
        positive_seconds(label, value)
