"""Progressive rollout of a flag: phases, sequential tests, manual control, a journal.

See ``docs/rollout.md``. :class:`RolloutPlan` says how; :class:`RolloutMachine` decides
from per-tick counts (:class:`TickCounts`) and records every decision with its
:class:`Evidence`.
"""

from __future__ import annotations

from bastion.rollout._errors import InvalidTransition, PreflightFailed, RolloutError
from bastion.rollout._machine import ORCHESTRATOR, RolloutMachine
from bastion.rollout._model import (
    CohortCounts,
    Evidence,
    JournalEntry,
    RolloutState,
    Status,
    TickCounts,
)
from bastion.rollout._plan import DEFAULT_PHASES, RolloutPlan

__all__ = [
    "DEFAULT_PHASES",
    "ORCHESTRATOR",
    "CohortCounts",
    "Evidence",
    "InvalidTransition",
    "JournalEntry",
    "PreflightFailed",
    "RolloutError",
    "RolloutMachine",
    "RolloutPlan",
    "RolloutState",
    "Status",
    "TickCounts",
]
