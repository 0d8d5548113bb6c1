"""Errors of the flag service, rooted in the Bastion exception tree.

::

    BastionError
    └── FlagError                  a flag operation failed
        ├── UnknownFlag            no flag has that key (also a ``LookupError``)
        ├── FlagExists             ``define`` of a key that is defined already
        ├── FlagConflict           another writer changed the flag meanwhile (retryable)
        └── FlagStoreCorrupt       the flag's stored data cannot be read; quarantined

Bad arguments (a percentage outside 0..100, a rule naming an unknown variant, a key
with spaces) are ``ValueError``/``TypeError`` at the call site, never a flag error.
"""

from __future__ import annotations

from bastion._core._errors import BastionError, Severity

__all__ = ["FlagConflict", "FlagError", "FlagExists", "FlagStoreCorrupt", "UnknownFlag"]


class FlagError(BastionError):
    """Base of the flag service's errors."""


class UnknownFlag(FlagError, LookupError):
    """No flag is defined under the key (``flags.list()`` shows the defined ones)."""


class FlagExists(FlagError):
    """``define`` was given a key that is defined already; use ``set`` to change it."""


class FlagConflict(FlagError):
    """Another writer (another process on the same store) kept changing the flag while
    this change was applied; nothing was written. Retrying is safe."""

    default_retryable = True


class FlagStoreCorrupt(FlagError):
    """The flag's stored definition or journal could not be decoded.

    Its namespace was moved to the store's quarantine (``store.quarantined()``), nothing
    deleted; the flag cannot be evaluated, changed or rolled out until it is defined
    again (``flags.define``), which starts a fresh journal. ``context`` holds ``flag``,
    ``namespace`` and ``reason``.
    """

    default_severity = Severity.HIGH
