"""Errors of the persistence layer, rooted in the Bastion exception tree.

::

    InfrastructureError
    └── StoreError                 a state store failed (retryable unless stated)
        ├── StoreClosed            the store is closed or its writer stopped
        ├── StoreTimeout           a store operation missed its deadline
        ├── StoreOpenError         the file cannot be used as a state database (never retried)
        │   ├── NotAStateStore     it is not one of ours: nothing was written to it
        │   └── DamagedStore       one of ours, with missing or altered tables
        ├── VersionConflict        a compare-and-set write saw another version
        └── CorruptState           stored bytes could not be decoded (never retried)
            └── UnknownStateVersion  state written by a newer schema than this code knows
    UnsupportedType (StoreError, TypeError)   a value the codec has no hook for
    UnstorableValue (StoreError, ValueError)  a value JSON cannot hold faithfully (NaN, ±inf)
    ValidationError (ExpectedError)
    └── InvalidState               an action left state that cannot be stored; refused
"""

from __future__ import annotations

from bastion._core._errors import InfrastructureError, Severity, ValidationError

__all__ = [
    "CorruptState",
    "DamagedStore",
    "InvalidState",
    "NotAStateStore",
    "StoreClosed",
    "StoreError",
    "StoreOpenError",
    "StoreTimeout",
    "UnknownStateVersion",
    "UnstorableValue",
    "UnsupportedType",
    "VersionConflict",
]


class StoreError(InfrastructureError):
    """A state store operation failed."""


class StoreClosed(StoreError):
    """The store is closed, or its writer stopped after a failure."""

    default_retryable = False


class StoreOpenError(StoreError):
    """The file cannot be used as a state database; the message names it and says why."""

    default_retryable = False


class NotAStateStore(StoreOpenError):
    """The file is not a Bastion state database (a text file, another application's
    SQLite database...). It was not written to, and is never deleted."""


class DamagedStore(StoreOpenError):
    """A Bastion state database whose tables are missing or altered; not re-initialised."""

    default_severity = Severity.HIGH


class StoreTimeout(StoreError):
    """A store operation did not finish within its deadline."""


class VersionConflict(StoreError):
    """A compare-and-set write expected one record version and found another.

    Nothing of the batch that carried the write was applied.
    """

    default_retryable = False


class CorruptState(StoreError):
    """Stored bytes could not be decoded into the expected shape. Never retried."""

    default_retryable = False
    default_severity = Severity.HIGH


class UnknownStateVersion(CorruptState):
    """The state was written by a schema version this code does not know."""


class UnsupportedType(StoreError, TypeError):
    """The codec has no encoding for a value's type; register a hook for it."""

    default_retryable = False


class UnstorableValue(StoreError, ValueError):
    """A value the codec cannot store faithfully: NaN or ±infinity (JSON has neither)."""

    default_retryable = False


class InvalidState(ValidationError):
    """An action left a persistent field that cannot be stored and restored.

    The value does not fit the field's declared type, is NaN or infinite, or has no codec
    hook. The action fails with this error (the caller gets it, the agent keeps running),
    and the agent's state is rolled back to its last save, in memory and in the store.
    """
