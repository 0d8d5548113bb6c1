"""The load tester's errors: one branch of :class:`bastion.BastionError`.

Bad arguments (a malformed threshold, a negative rate) are ``ValueError``/``TypeError``
like everywhere in Bastion; :class:`ScenarioNotFound` is both a ``LoadTestError`` and
a ``LookupError``.
"""

from __future__ import annotations

from typing import ClassVar

from bastion._core._errors import BastionError, BusinessError, Category, InfrastructureError

__all__ = [
    "ChaosFault",
    "IterationTimeout",
    "LoadTestError",
    "ReturnedError",
    "ScenarioNotFound",
    "WorkerLost",
]


class LoadTestError(BastionError):
    """A load test could not run (not: the system under test failed)."""


class ScenarioNotFound(LoadTestError, LookupError):
    """A scenario file or the name in ``path.py:name`` does not exist."""


class WorkerLost(LoadTestError):
    """A worker process of a ``workers=N`` run died before it reported."""


class ReturnedError(BusinessError):
    """Stands for an error a scenario *returned* (``("error", reason)``) instead of raised."""


class IterationTimeout(BastionError):
    """An iteration ran past the per-iteration ``timeout`` and was cancelled."""

    category: ClassVar[Category] = Category.INFRASTRUCTURE


class ChaosFault(InfrastructureError):
    """A store write chaos mode made fail (retryable, as a real outage would be)."""
