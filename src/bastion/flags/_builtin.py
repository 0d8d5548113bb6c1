"""Flags Bastion itself declares, and what follows them.

* :data:`ERROR_CONTEXT_MODE` (``"bastion.error_context_mode"``) chooses where error
  contexts are stored (:mod:`bastion.resilience.legacy`): variant ``"contextvars"``
  (the default, as without the flag) or the deprecated ``"thread_local"``. The mode is
  process-wide, so :func:`follow_error_context_mode` evaluates the flag with a targeting
  key naming the process (or node): a percentage rolls the mode out process by process.
* :data:`DEMO_STEP_IMPL` (``"demo.step_impl"``) chooses the implementation of the demo
  pipeline's ``enrich`` step per document: ``"current"`` (the default) or
  ``"candidate"`` (``bastion demo``, :mod:`bastion.demo`).

Declare them on a service with ``await flags.ensure(ERROR_CONTEXT_MODE, actor=...,
reason=...)``; ``ensure`` keeps whatever operators changed since.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bastion.flags._journal import FlagChange
from bastion.flags._model import Flag
from bastion.resilience.legacy import ContextMode, context_mode, set_context_mode

if TYPE_CHECKING:
    from bastion.flags._service import Flags

__all__ = ["DEMO_STEP_IMPL", "ERROR_CONTEXT_MODE", "follow_error_context_mode"]

ERROR_CONTEXT_MODE = Flag(
    "bastion.error_context_mode",
    {"contextvars": "contextvars", "thread_local": "thread_local"},
    "contextvars",
    description=(
        "Where error contexts are stored: contextvars (default) or the deprecated "
        "thread_local mode. Process-wide; evaluated per process by "
        "follow_error_context_mode."
    ),
)

DEMO_STEP_IMPL = Flag(
    "demo.step_impl",
    {"current": "current", "candidate": "candidate"},
    "current",
    canary="candidate",
    description="The demo pipeline's enrich step: current (default) or candidate, per document.",
)


def follow_error_context_mode(flags: Flags, targeting_key: str) -> Callable[[], None]:
    """Apply :data:`ERROR_CONTEXT_MODE` to this process now and after every change.

    ``targeting_key`` names this process or node (the mode is process-wide). Returns
    the function that stops following (the mode stays as it is). Raises
    :class:`~bastion.flags.UnknownFlag` if the flag is not defined on ``flags``.
    """
    key = ERROR_CONTEXT_MODE.key

    def apply() -> None:
        wanted = ContextMode(str(flags.evaluate(key, targeting_key, cohort=False).value))
        if wanted is not context_mode():
            set_context_mode(wanted)

    def on_change(change: FlagChange) -> None:
        if change.key == key:
            apply()

    apply()
    return flags.subscribe(on_change)
