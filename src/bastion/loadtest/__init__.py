"""Supervised load tests: ``bastion.loadtest.run`` and ``bastion loadtest``.

Scenarios (async callables or actor calls, with weights) run under a closed model
(N users) or an open model (an arrival rate, latency from the intended start); every
user is a supervised task owned by a driver actor under the load test's supervisor.
Results: per-scenario and overall throughput, p50/p90/p99/p99.9/max in milliseconds,
errors by category, a per-second series; JSON and a self-contained HTML report;
thresholds that fail the run; chaos mode. See ``docs/loadtest.md``.
"""

from __future__ import annotations

from bastion._public import publish
from bastion.loadtest._chaos import Chaos, ChaosKill, ChaosStore, TaskLedger
from bastion.loadtest._driver import Progress
from bastion.loadtest._errors import (
    ChaosFault,
    IterationTimeout,
    LoadTestError,
    ReturnedError,
    ScenarioNotFound,
    WorkerLost,
)
from bastion.loadtest._models import ClosedModel, OpenModel, Stage
from bastion.loadtest._result import (
    ChaosEvent,
    LatencySummary,
    LoadTestResult,
    ScenarioStats,
    SecondStats,
    WorkerReport,
)
from bastion.loadtest._run import run
from bastion.loadtest._scenario import (
    LoadTest,
    Scenario,
    User,
    call_actor,
    cast_actor,
    returned_error,
)
from bastion.loadtest._thresholds import METRICS, Threshold, ThresholdResult, parse_threshold

__all__ = [
    "call_actor",
    "cast_actor",
    "Chaos",
    "ChaosEvent",
    "ChaosFault",
    "ChaosKill",
    "ChaosStore",
    "ClosedModel",
    "IterationTimeout",
    "LatencySummary",
    "LoadTest",
    "LoadTestError",
    "LoadTestResult",
    "METRICS",
    "OpenModel",
    "parse_threshold",
    "Progress",
    "returned_error",
    "ReturnedError",
    "run",
    "Scenario",
    "ScenarioNotFound",
    "ScenarioStats",
    "SecondStats",
    "Stage",
    "TaskLedger",
    "Threshold",
    "ThresholdResult",
    "User",
    "WorkerLost",
    "WorkerReport",
]

publish(globals(), "bastion.loadtest")
