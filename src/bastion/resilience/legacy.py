"""Deprecated: the thread-local error-context mode, kept only for migration.

Not re-exported from :mod:`bastion.resilience`. New code uses the default
``contextvars`` mode and never imports this module. Selecting ``"thread_local"`` emits
:class:`DeprecationWarning`; see ``docs/resilience.md`` ("Migrating").
"""

from __future__ import annotations

from bastion._public import publish
from bastion.resilience._legacy import ContextMode, context_mode, set_context_mode

__all__ = ["context_mode", "ContextMode", "set_context_mode"]

publish(globals(), "bastion.resilience.legacy")
