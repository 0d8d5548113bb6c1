"""Errors raised by the test toolkit, rooted in Bastion's one exception tree.

::

    BastionError
    ├── Timeout
    │   └── WaitTimeout            a helper's wait expired (also an AssertionError)
    ├── DeadlockError              nothing can ever wake the loop
    ├── TestTimeLimitExceeded      the real-time cap of a test passed
    └── LeakError                  the test left things behind (also an AssertionError)

None of them is an ``InfrastructureError`` or an ``ActorError``: they report a failed
test, so no retry policy retries them and no actor-failure handler catches them.
"""

from __future__ import annotations

from typing import ClassVar

from bastion._core._errors import BastionError, Category, Severity, Timeout

__all__ = ["DeadlockError", "LeakError", "TestTimeLimitExceeded", "WaitTimeout"]


class DeadlockError(BastionError):
    """Everything is waiting and nothing can ever wake it: no timer, no I/O, no thread.

    The message holds a dump of the stuck tasks and, when a runtime is open, its actors
    and pending calls. Raised instead of hanging.
    """

    category = Category.SYSTEM
    default_severity: ClassVar[Severity] = Severity.HIGH


class TestTimeLimitExceeded(BastionError):
    """A test ran longer than its real-time cap (``BASTION_TEST_TIMEOUT``); dump included."""

    __test__ = False  # not a pytest test class
    category = Category.SYSTEM
    default_severity: ClassVar[Severity] = Severity.HIGH


class WaitTimeout(Timeout, AssertionError):
    """A test helper's wait expired; the message says what it last saw. Never retried."""


class LeakError(BastionError, AssertionError):
    """A test left actors, tasks, timers, monitors or threads behind; the message lists them."""

    category = Category.SYSTEM
