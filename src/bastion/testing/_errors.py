"""Errors raised by the test toolkit, rooted in Bastion's one exception tree."""

from __future__ import annotations

from typing import ClassVar

from bastion._core._errors import ActorError, CallTimeout, Severity

__all__ = ["DeadlockError", "LeakError", "TestTimeLimitExceeded", "WaitTimeout"]


class DeadlockError(ActorError):
    """Everything is waiting and nothing can ever wake it: no timer, no I/O, no thread.

    The message holds a dump of the stuck tasks and, when a runtime is open, its actors
    and pending calls. Raised instead of hanging.
    """

    default_code = "deadlock"
    default_severity: ClassVar[Severity] = Severity.HIGH


class TestTimeLimitExceeded(ActorError):
    """A test ran longer than its real-time cap (``BASTION_TEST_TIMEOUT``); dump included."""

    __test__ = False  # not a pytest test class
    default_code = "test_time_limit"
    default_severity: ClassVar[Severity] = Severity.HIGH


class WaitTimeout(CallTimeout, AssertionError):
    """A test helper's wait expired; the message says what it last saw."""

    default_code = "wait_timeout"


class LeakError(ActorError, AssertionError):
    """A test left actors, tasks, timers, monitors or threads behind; the message lists them."""

    default_code = "leak"
