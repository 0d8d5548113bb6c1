"""The keyword options of :meth:`PostgresStore.open <bastion.persistence.PostgresStore.open>`."""

from __future__ import annotations

from typing import Literal, TypedDict

__all__ = ["BatchedCommit", "PostgresStoreOptions"]

BatchedCommit = Literal["off", "local", "on"]


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
