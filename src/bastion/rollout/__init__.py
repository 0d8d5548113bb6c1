"""Progressive rollout of a flag: phases, sequential tests, manual control, a journal.

See ``docs/rollout.md``. :class:`RolloutPlan` says how; :class:`RolloutOrchestrator` (a
supervised ``PersistentAgent``) drives the flag; :class:`RolloutMachine` decides from
per-tick counts (:class:`TickCounts`) and records every decision with its
:class:`Evidence`; :func:`run_preflight` answers the readiness report, extensible with
:func:`register_check`.
"""

from __future__ import annotations

from bastion._public import publish
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
from bastion.rollout._orchestrator import RolloutOrchestrator, RolloutStatus, orchestrator_name
from bastion.rollout._plan import DEFAULT_PHASES, RolloutPlan
from bastion.rollout._preflight import (
    CheckResult,
    PreflightContext,
    PreflightReport,
    check_names,
    register_check,
    run_preflight,
    unregister_check,
)

__all__ = [
    "check_names",
    "CheckResult",
    "CohortCounts",
    "DEFAULT_PHASES",
    "Evidence",
    "InvalidTransition",
    "JournalEntry",
    "ORCHESTRATOR",
    "orchestrator_name",
    "PreflightContext",
    "PreflightFailed",
    "PreflightReport",
    "register_check",
    "RolloutError",
    "RolloutMachine",
    "RolloutOrchestrator",
    "RolloutPlan",
    "RolloutState",
    "RolloutStatus",
    "run_preflight",
    "Status",
    "TickCounts",
    "unregister_check",
]

publish(globals(), "bastion.rollout")
