"""Durable state for agents: the :class:`StateStore` protocol, its backends and codec.

* :class:`MemoryStore` keeps state in the process; it survives actor crashes because it
  is owned by the code that starts the runtime, not by the actor.
* :class:`SQLiteStore` (the default) keeps state in one SQLite file in WAL mode with
  group commit; acknowledged state survives ``kill -9`` of the process. It never writes
  to a file that is not a Bastion state database; :func:`delete_store_file` deletes one
  only if it is.
* :class:`PostgresStore` (the ``postgres`` extra) keeps state in PostgreSQL tables, so
  several processes or machines can share it; same group commits and compare-and-set.
* :class:`Codec` encodes state as JSON with msgspec (no pickle), with hooks for deque,
  sets, tuples, datetimes, ``Decimal``, ``UUID``, dataclasses and registered classes.

This package imports the kernel's errors only; agents build on it (``bastion.agents``).
"""

from __future__ import annotations

from bastion._public import publish
from bastion.persistence._codec import Codec, default_codec
from bastion.persistence._errors import (
    CorruptState,
    DamagedStore,
    InvalidState,
    NotAStateStore,
    StoreClosed,
    StoreError,
    StoreOpenError,
    StoreTimeout,
    UnknownStateVersion,
    UnstorableValue,
    UnsupportedType,
    VersionConflict,
)
from bastion.persistence._memory import MemoryStore
from bastion.persistence._postgres import PostgresStore
from bastion.persistence._protocol import (
    Delete,
    DeleteItem,
    Durability,
    Fence,
    NamespaceData,
    Op,
    Put,
    PutItem,
    QuarantineEntry,
    Record,
    StateStore,
    StoreStatistics,
    WriteResult,
)
from bastion.persistence._sqlite import SQLiteStore
from bastion.persistence._sqlite_files import delete_store_file

__all__ = [
    "Codec",
    "CorruptState",
    "DamagedStore",
    "default_codec",
    "Delete",
    "delete_store_file",
    "DeleteItem",
    "Durability",
    "Fence",
    "InvalidState",
    "MemoryStore",
    "NamespaceData",
    "NotAStateStore",
    "Op",
    "PostgresStore",
    "Put",
    "PutItem",
    "QuarantineEntry",
    "Record",
    "SQLiteStore",
    "StateStore",
    "StoreClosed",
    "StoreError",
    "StoreOpenError",
    "StoreStatistics",
    "StoreTimeout",
    "UnknownStateVersion",
    "UnstorableValue",
    "UnsupportedType",
    "VersionConflict",
    "WriteResult",
]

publish(globals(), "bastion.persistence")
