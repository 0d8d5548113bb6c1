"""``RuntimeOptions``: the runtime's knobs, written and validated in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypedDict

from bastion._core._durations import positive_seconds

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_DEAD_LETTER_CAPACITY",
    "DEFAULT_MAILBOX_CAPACITY",
    "RuntimeOptionKeywords",
    "RuntimeOptions",
    "check_capacity",
]

#: Documented defaults.
DEFAULT_CALL_TIMEOUT = 5.0
DEFAULT_MAILBOX_CAPACITY = 1000
DEFAULT_DEAD_LETTER_CAPACITY = 1000


def check_capacity(capacity: object, what: str) -> int:
    """Return ``capacity`` or raise ``ValueError`` if it is not an int >= 1."""
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"{what} must be an int >= 1, got {capacity!r}")
    return capacity


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeOptions:
    """The options of a runtime, validated once; ``open_runtime(**options)`` builds it.

    ``call_timeout``: default deadline of calls, casts under backpressure, starts and
    stops (seconds, > 0). ``mailbox_capacity``: default mailbox bound per actor.
    ``dead_letter_capacity``: dead letters kept (the oldest are evicted).
    ``max_threads``: threads of ``rt.tasks.run_blocking`` (default
    ``min(32, cpu_count + 4)``). ``shutdown_timeout``: each actor's stop budget at
    shutdown. ``metrics``: whether the kernel measures itself (``rt.metrics``). Bad
    values raise ``ValueError``/``TypeError``; ``rt.options`` reads them back.
    """

    call_timeout: float = DEFAULT_CALL_TIMEOUT
    mailbox_capacity: int = DEFAULT_MAILBOX_CAPACITY
    dead_letter_capacity: int = DEFAULT_DEAD_LETTER_CAPACITY
    max_threads: int | None = None
    shutdown_timeout: float = DEFAULT_CALL_TIMEOUT
    metrics: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.metrics, bool):
            raise TypeError(f"metrics must be True or False, got {self.metrics!r}")
        threads = self.max_threads
        if threads is None:
            threads = min(32, (os.cpu_count() or 1) + 4)
        normalized = {
            "call_timeout": positive_seconds("call_timeout", self.call_timeout),
            "shutdown_timeout": positive_seconds("shutdown_timeout", self.shutdown_timeout),
            "mailbox_capacity": check_capacity(self.mailbox_capacity, "mailbox_capacity"),
            "dead_letter_capacity": check_capacity(
                self.dead_letter_capacity, "dead_letter_capacity"
            ),
            "max_threads": check_capacity(threads, "max_threads"),
        }
        for name, value in normalized.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_keywords(cls, options: Mapping[str, Any]) -> RuntimeOptions:
        """Build from keyword options; an unknown one is a ``TypeError`` listing the valid."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown runtime option(s) {unknown}; valid: {sorted(known)}")
        return cls(**options)


class RuntimeOptionKeywords(TypedDict, total=False):
    """The keywords of ``open_runtime(**options)`` and ``run(main, **options)``, typed.

    They mirror :class:`RuntimeOptions` field by field (a test keeps the two in step),
    so a type checker rejects a misspelled option; the runtime still validates values.
    """

    call_timeout: float
    mailbox_capacity: int
    dead_letter_capacity: int
    max_threads: int | None
    shutdown_timeout: float
    metrics: bool
