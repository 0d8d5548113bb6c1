"""``run()``: validate, set up, start the load test's supervision tree, measure, judge."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from bastion._core._childspec import ChildSpec, Restart
from bastion._core._intensity import RestartIntensity
from bastion._core._ref import ActorRef
from bastion._core._run import open_runtime
from bastion._core._runtime import Runtime
from bastion.loadtest._chaos import Chaos, ChaosLog
from bastion.loadtest._driver import START, STOP, Driver, Plan, Progress
from bastion.loadtest._engine import Engine
from bastion.loadtest._models import ClosedModel, OpenModel
from bastion.loadtest._recorder import Measurements, Recorder
from bastion.loadtest._result import LoadTestResult, summarise
from bastion.loadtest._scenario import LoadTest, Scenario, ScenarioFn
from bastion.loadtest._thresholds import Threshold, parse_threshold

__all__ = [
    "RunControl",
    "describe_model",
    "measure",
    "prepare_thresholds",
    "run",
    "validate_plan",
]

DRIVER_GRACE = 30.0  # beyond the plan's own length, for setup of users and shutdown


async def run(
    target: LoadTest | Scenario | Sequence[Scenario] | ScenarioFn,
    *,
    load: ClosedModel | OpenModel,
    duration: float | None = None,
    iterations: int | None = None,
    warmup: float = 0.0,
    cooldown: float = 5.0,
    timeout: float = 5.0,
    thresholds: Sequence[str | Threshold] = (),
    chaos: Chaos | None = None,
    runtime: Runtime | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_interval: float = 0.5,
    max_duration: float = 3600.0,
    seed: int | None = None,
) -> LoadTestResult:
    """Apply ``load`` to ``target``'s scenarios and return what was measured.

    Exactly one of ``duration`` (seconds of recorded load) and ``iterations``
    (recorded iterations, shared by all users) is given. ``warmup`` seconds of load
    come first and are not recorded; after the window no iteration starts, and
    in-flight ones get ``cooldown`` seconds to finish (they count: they started inside
    the window) before they are cancelled (``interrupted``). Each iteration is
    cancelled after ``timeout`` seconds (at most 1/8 of it later) and counted as a
    failure (:class:`IterationTimeout`). ``runtime``: the
    runtime the system under test lives in (default: a fresh one, closed afterwards;
    then what the scenarios left behind is stopped and counted in ``result.leaked``).
    Bad arguments raise ``ValueError``/``TypeError`` before anything starts.
    """
    test = LoadTest.of(target)
    plan = validate_plan(
        load, duration, iterations, warmup, cooldown, timeout, progress_interval, max_duration
    )
    parsed = prepare_thresholds(thresholds, test)
    if runtime is not None:
        return await _run_in(
            runtime, test, plan, iterations, timeout, parsed, chaos, on_progress, seed
        )
    before = asyncio.all_tasks()
    async with open_runtime() as owned:
        result = await _run_in(
            owned, test, plan, iterations, timeout, parsed, chaos, on_progress, seed
        )
        actors = len(owned.actors())  # after teardown: what the scenarios left running
    tasks = await _cancel_leaked_tasks(before)
    return replace(result, leaked={"actors": actors, "tasks": tasks})


async def _cancel_leaked_tasks(before: set[asyncio.Task[Any]]) -> int:
    """Cancel (and await, bounded) asyncio tasks the load test started and left pending."""
    current = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() if t not in before and t is not current]
    for task in leaked:
        task.cancel()
    if leaked:
        await asyncio.wait(leaked, timeout=DRIVER_GRACE)
    return len(leaked)


async def _run_in(
    rt: Runtime,
    test: LoadTest,
    plan: Plan,
    iterations: int | None,
    timeout: float,
    thresholds: Sequence[Threshold],
    chaos: Chaos | None,
    on_progress: Callable[[Progress], None] | None,
    seed: int | None,
) -> LoadTestResult:
    context = await test.setup(rt) if test.setup is not None else None
    log = ChaosLog()
    try:
        if chaos is not None:
            chaos.arm(rt, context, log, seed or 0)
        try:
            measurements = await measure(
                rt, test, plan, iterations, timeout, context, chaos, log, on_progress, seed
            )
        finally:
            if chaos is not None:
                chaos.disarm()
        chaos_summary = await chaos.check(rt, context, log) if chaos is not None else {}
    finally:
        if test.teardown is not None:
            await test.teardown(rt, context)
    return summarise(
        measurements,
        model=describe_model(plan.load),
        thresholds=thresholds,
        chaos=log.events,
        chaos_summary=chaos_summary,
    )


async def measure(
    rt: Runtime,
    test: LoadTest,
    plan: Plan,
    iterations: int | None,
    timeout: float,
    context: Any,
    chaos: Chaos | None,
    log: ChaosLog,
    on_progress: Callable[[Progress], None] | None,
    seed: int | None,
    control: RunControl | None = None,
) -> Measurements:
    """Run the load under a supervisor (driver + chaos actors); return the measurements."""
    recorder = Recorder(
        [s.name for s in test.scenarios], settle_lag=math.ceil(timeout + plan.cooldown) + 2
    )
    engine = Engine(
        test, recorder, now=loop_clock(rt.loop), timeout=timeout, iterations=iterations, seed=seed
    )
    users = plan.load.users if isinstance(plan.load, ClosedModel) else plan.load.max_in_flight
    length = plan.warmup + (plan.duration if plan.duration is not None else plan.max_duration)
    specs = [
        ChildSpec(
            "driver",
            Driver,
            args=(engine, plan, context, on_progress),
            restart=Restart.TEMPORARY,
            shutdown=plan.cooldown + 5.0,
            mailbox_capacity=users + 64,
        )
    ]
    if chaos is not None:
        specs.extend(chaos.children(log, engine, seed))
    sup = await rt.start_supervisor(specs, intensity=RestartIntensity(max_restarts=0))
    driver = sup.child("driver")
    if control is not None:
        control.driver = driver
    try:
        await driver.call(START, timeout=length + plan.cooldown + DRIVER_GRACE)
    finally:
        await sup.stop(timeout=plan.cooldown + DRIVER_GRACE)
    return recorder.measurements()


def loop_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time``, or ``time.monotonic`` itself when that is all it does (one call less
    per reading on asyncio's own loops; a virtual-time loop keeps its own ``time``)."""
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


class RunControl:
    """Closes a running load test's window early (a worker process told to stop)."""

    def __init__(self) -> None:
        self.driver: ActorRef | None = None

    def stop(self) -> None:
        """Stop starting iterations now; in-flight ones drain as at the window's end."""
        if self.driver is not None and self.driver.is_alive:
            self.driver.cast_nowait(STOP)


def validate_plan(
    load: object,
    duration: float | None,
    iterations: int | None,
    warmup: float,
    cooldown: float,
    timeout: float,
    progress_interval: float,
    max_duration: float,
) -> Plan:
    """The checked :class:`Plan`; ``ValueError``/``TypeError`` saying what is wrong."""
    if not isinstance(load, ClosedModel | OpenModel):
        raise TypeError(f"load must be a ClosedModel or an OpenModel, got {load!r}")
    if (duration is None) == (iterations is None):
        raise ValueError("give exactly one of duration (seconds) and iterations (a count)")
    if iterations is not None:
        if isinstance(iterations, bool) or not isinstance(iterations, int):
            raise TypeError(f"iterations must be an int, got {iterations!r}")
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
    if duration is not None:
        _seconds("duration", duration, positive=True)
    _seconds("warmup", warmup)
    _seconds("cooldown", cooldown)
    _seconds("timeout", timeout, positive=True)
    _seconds("progress_interval", progress_interval, positive=True)
    _seconds("max_duration", max_duration, positive=True)
    return Plan(load, duration, max_duration, warmup, cooldown, progress_interval)


def _seconds(what: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{what} must be a finite number of seconds {bound}, got {value!r}")
    return float(value)


def prepare_thresholds(thresholds: Sequence[str | Threshold], test: LoadTest) -> list[Threshold]:
    """Parse thresholds and check the scenarios they name exist."""
    if isinstance(thresholds, str):
        thresholds = [thresholds]
    parsed = [t if isinstance(t, Threshold) else parse_threshold(t) for t in thresholds]
    names = {s.name for s in test.scenarios}
    for threshold in parsed:
        if threshold.scenario is not None and threshold.scenario not in names:
            raise ValueError(
                f"bad threshold {threshold.text!r}: no scenario {threshold.scenario!r}; "
                f"scenarios: {sorted(names)}"
            )
    return parsed


def describe_model(load: ClosedModel | OpenModel) -> str:
    """``"closed: 10 users"`` / ``"open: 500/s"``, for reports."""
    if isinstance(load, ClosedModel):
        think = f", think {load.think_time:g} s" if load.think_time else ""
        return f"closed: {load.users} users{think}"
    stages = f", {len(load.stages)} stage(s)" if load.stages else ""
    return f"open: {load.rate:g}/s{stages}, max {load.max_in_flight} in flight"
