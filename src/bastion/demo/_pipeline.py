"""Build the supervision tree, feed it documents, and account for every one of them."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bastion import ActorRef, ChildSpec, RestartIntensity, Runtime
from bastion.agents import (
    CoordinatorAgent,
    CoordinatorStatistics,
    HealthSample,
    MonitorAgent,
    SignalBus,
    TaskAgent,
    Thresholds,
    UnknownWorkflow,
    WorkflowStatus,
    act,
)
from bastion.demo._alerts import AlertLog, FinishLine
from bastion.demo._chaos import ChaosMonkey
from bastion.demo._steps import STEPS, make_handlers
from bastion.flags import DEMO_STEP_IMPL, Flags
from bastion.persistence import SQLiteStore

__all__ = ["DemoConfig", "DemoProgress", "DemoSummary", "run_demo"]

TERMINAL = ("completed", "failed", "cancelled")
MONITOR_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """What ``bastion demo`` runs. Invalid values raise ``ValueError``."""

    tasks: int = 200
    workers: int = 4
    chaos: float = 0.05
    seed: int = 7
    db: Path = Path("bastion-demo.db")
    io_seconds: float = 0.02
    timeout: float = 600.0

    def __post_init__(self) -> None:
        if not 1 <= self.tasks <= 100_000:
            raise ValueError(f"--tasks must be within 1..100000, got {self.tasks}")
        if not 1 <= self.workers <= 64:
            raise ValueError(f"--workers must be within 1..64, got {self.workers}")
        if not 0.0 <= self.chaos <= 1.0:
            raise ValueError(f"--chaos must be within 0..1, got {self.chaos}")
        if not 0 <= self.io_seconds <= 10:
            raise ValueError(f"--io-ms must be within 0..10000, got {self.io_seconds * 1000}")
        if not 0 < self.timeout < float("inf"):
            raise ValueError(f"--timeout must be a positive number of seconds, got {self.timeout}")


@dataclass(frozen=True, slots=True)
class DemoProgress:
    """A progress snapshot for the live display."""

    accepted: int
    finished: int
    running: int
    restarts: int
    retried: int


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """The closing account: every accepted document is completed, failed or unfinished.

    ``timed_out``: ``--timeout`` ran out before every document finished (``unfinished``
    counts the rest; running again with the same ``--db`` finishes them).
    """

    accepted: int
    completed: int
    failed: int
    failed_reasons: dict[str, int]
    retried: int
    reassigned: int
    restarts: int
    chaos_kills: int
    health_alerts: dict[str, int]
    health_samples: int
    unfinished: int
    lost: int
    resumed: int
    seconds: float
    db: str
    timed_out: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _workflow(doc: int) -> list[dict[str, Any]]:
    return [{"name": s, "task_type": s, "payload": {"doc": doc}} for s in STEPS]


def _tree(config: DemoConfig, store: SQLiteStore, bus: SignalBus, flags: Flags) -> list[ChildSpec]:
    """Workers, the coordinator (announcing finished workflows on ``bus``), monitor, chaos."""
    handlers = make_handlers(config.seed, config.chaos, config.io_seconds, flags)
    names = [f"worker-{i}" for i in range(config.workers)]
    workers = [
        ChildSpec(n, TaskAgent, kwargs={"store": store, "handlers": handlers}, name=n)
        for n in names
    ]
    coordinator = ChildSpec(
        "coordinator",
        CoordinatorAgent,
        kwargs={
            "store": store,
            "max_concurrent_workflows": max(8, config.workers * 4),
            "max_pending_workflows": config.tasks,
            "max_step_attempts": 4,
            "stall_timeout": 30.0,
            "check_interval": 1.0,
            "signals": bus,
        },
        name="coordinator",
        shutdown=10.0,
    )
    monitor = ChildSpec(
        "monitor",
        MonitorAgent,
        kwargs={
            "interval": MONITOR_INTERVAL,
            "history_size": 600,
            "thresholds": Thresholds(max_restarts_per_interval=2, max_error_rate=0.2),
            "signals": bus,
        },
        name="monitor",
    )
    chaos = ChildSpec(
        "chaos", ChaosMonkey, (names, min(1.0, config.chaos * 10), config.seed), name="chaos"
    )
    return [*workers, coordinator, monitor, chaos]


async def run_demo(
    runtime: Runtime,
    config: DemoConfig,
    on_progress: Callable[[DemoProgress], None] | None = None,
) -> DemoSummary:
    """Run the pipeline in ``runtime`` until every document is finished or time is up."""
    started = time.monotonic()
    store = await SQLiteStore.open(config.db)
    flags = await Flags.open(store, namespace="flags")
    await flags.ensure(DEMO_STEP_IMPL, actor="bastion demo", reason="the demo's enrich step flag")
    bus = await SignalBus().start(runtime, name="signals")
    try:
        alerts = await runtime.spawn(AlertLog, name="alerts")
        await bus.subscribe("monitor.alert.*", alerts)
        changed = asyncio.Event()
        finish_line = await runtime.spawn(FinishLine, changed, name="finish-line")
        # One buffered signal per document at least: a finish is never dropped.
        await bus.subscribe("workflow.*", finish_line, buffer=config.tasks + 64)
        sup = await runtime.start_supervisor(
            _tree(config, store, bus, flags),
            intensity=RestartIntensity(1000, max_seconds=10.0),
            name="demo",
        )
        coordinator = runtime.ref("coordinator")
        ids = [f"doc-{i:05d}" for i in range(config.tasks)]
        resumed = 0
        for doc, wf_id in enumerate(ids):
            status = await act(
                coordinator,
                "start_workflow",
                returns=WorkflowStatus,
                workflow_id=wf_id,
                steps=_workflow(doc),
            )
            resumed += status.status in TERMINAL or status.completed_steps > 0
        finished = await _wait_until_finished(
            runtime, coordinator, changed, started + config.timeout, on_progress, len(ids)
        )
        summary = await _account(runtime, coordinator, ids, config, started, resumed)
        await sup.stop(timeout=30.0)
        return replace(summary, timed_out=not finished and summary.unfinished > 0)
    finally:
        await bus.stop()
        await flags.aclose()
        await store.close()


async def _wait_until_finished(
    runtime: Runtime,
    coordinator: ActorRef,
    changed: asyncio.Event,
    deadline: float,
    on_progress: Callable[[DemoProgress], None] | None,
    accepted: int,
) -> bool:
    """Wait until no workflow is active (True) or ``deadline`` passes (False).

    Woken by :class:`FinishLine` each time a workflow finishes: no polling. ``changed``
    is cleared *before* the statistics are read, so a finish that lands in between
    is never missed.
    """
    while True:
        changed.clear()
        stats = await act(coordinator, "statistics", returns=CoordinatorStatistics)
        active = stats.running + stats.pending + stats.paused
        if on_progress is not None:
            on_progress(
                DemoProgress(
                    accepted=accepted,
                    finished=accepted - active,
                    running=stats.running,
                    restarts=runtime.statistics().restarts,
                    retried=stats.retried,
                )
            )
        if active == 0:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            async with asyncio.timeout(remaining):
                await changed.wait()
        except TimeoutError:
            return False


async def _account(
    runtime: Runtime,
    coordinator: ActorRef,
    ids: list[str],
    config: DemoConfig,
    started: float,
    resumed: int,
) -> DemoSummary:
    outcomes: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    retried = reassigned = lost = 0
    for wf_id in ids:
        try:
            status = await act(
                coordinator, "workflow_status", returns=WorkflowStatus, workflow_id=wf_id
            )
        except UnknownWorkflow:
            lost += 1
            continue
        outcomes[status.status if status.status in TERMINAL else "unfinished"] += 1
        retried += status.retried
        reassigned += status.reassigned
        if status.status == "failed":
            reasons[_reason(status.error)] += 1
    kills: int = await runtime.ref("chaos").call("kills") if runtime.whereis("chaos") else 0
    alerts: dict[str, int] = await runtime.ref("alerts").call("counts")
    recent = await act(runtime.ref("monitor"), "recent", returns=list, limit=10_000)
    samples = sum(isinstance(sample, HealthSample) for sample in recent)
    return DemoSummary(
        accepted=len(ids),
        completed=outcomes["completed"],
        failed=outcomes["failed"],
        failed_reasons=dict(reasons),
        retried=retried,
        reassigned=reassigned,
        restarts=runtime.statistics().restarts,
        chaos_kills=kills,
        health_alerts=alerts,
        health_samples=samples,
        unfinished=outcomes["unfinished"] + outcomes["cancelled"],
        lost=lost,
        resumed=resumed,
        seconds=round(time.monotonic() - started, 2),
        db=str(config.db),
    )


def _reason(error: str | None) -> str:
    """``"step 'parse': ValidationError: doc 7 …"`` → ``"parse: ValidationError"``."""
    if not error:
        return "unknown"
    parts = [p.strip() for p in error.split(":")]
    step = parts[0].removeprefix("step ").strip("'\"")
    return f"{step}: {parts[1]}" if len(parts) > 2 else error
