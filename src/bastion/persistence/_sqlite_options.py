"""The keyword options of :meth:`SQLiteStore.open <bastion.persistence.SQLiteStore.open>`."""

from __future__ import annotations

import os
from typing import Literal, TypedDict

__all__ = ["PROCESS_WRITER_SUPPORTED", "SQLiteStoreOptions", "WriterKind"]

WriterKind = Literal["loop", "thread", "process"]
#: The writer process needs nonblocking pipes watched by the event loop (POSIX).
PROCESS_WRITER_SUPPORTED = os.name == "posix"


class SQLiteStoreOptions(TypedDict, total=False):
    """The keywords of ``SQLiteStore.open(path, **options)``, typed.

    They mirror the keyword-only parameters of ``SQLiteStore.__init__`` (a test keeps
    the two in step), so a type checker rejects a misspelled option.
    """

    max_pending_ops: int
    op_timeout: float
    flush_interval: float
    writer: WriterKind | None
