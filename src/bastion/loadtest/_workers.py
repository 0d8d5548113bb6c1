"""``workers=N``: N worker processes, each with its own event loop, under this process.

The parent starts ``python -m bastion.loadtest._worker`` N times, gives each its share
(users, rate or iterations split; seeds offset), waits until all are set up, then says
go. Each worker's frames are read by a supervised task (``rt.tasks``); the parent adds
the workers' measurements bucket-wise (:func:`merge_measurements`, exact) and judges
the thresholds on the sum. A worker that dies without reporting (``kill -9``) is a
:class:`WorkerReport` with ``reported=False`` (the run does not pass); with
``on_worker_lost="stop"`` the others are told to stop and report, with ``"continue"``
they run to the end.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bastion._core._runtime import Runtime
from bastion.loadtest._driver import Progress
from bastion.loadtest._errors import LoadTestError
from bastion.loadtest._models import ClosedModel, OpenModel
from bastion.loadtest._protocol import (
    Done,
    Failed,
    Go,
    Ready,
    Start,
    Stop,
    Tick,
    decode_frame,
    frame,
    read_frame_size,
)
from bastion.loadtest._recorder import Measurements, merge_measurements
from bastion.loadtest._result import LoadTestResult, WorkerReport, summarise
from bastion.loadtest._run import describe_model, prepare_thresholds, validate_plan
from bastion.loadtest._scenario import LoadTest

__all__ = ["run_distributed", "run_workers", "shares"]

SETUP_TIMEOUT = 60.0
EXIT_GRACE = 10.0


@dataclass
class _Worker:
    number: int
    process: asyncio.subprocess.Process
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    tick: Tick | None = None
    measurements: Measurements | None = None
    failure: str | None = None


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers as equal as possible."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def _starts(target: str, demo: bool, workers: int, options: dict[str, Any]) -> list[Start]:
    load = options["load"]
    iterations = options.get("iterations")
    users = shares(load.users, workers) if isinstance(load, ClosedModel) else [None] * workers
    if isinstance(load, ClosedModel) and min(shares(load.users, workers)) < 1:
        raise ValueError(f"--users ({load.users}) must be at least --workers ({workers})")
    counts = shares(iterations, workers) if iterations is not None else [None] * workers
    if iterations is not None and min(shares(iterations, workers)) < 1:
        raise ValueError(f"--iterations ({iterations}) must be at least --workers ({workers})")
    open_share = load.split(workers) if isinstance(load, OpenModel) else None
    seed = options.get("seed")
    return [
        Start(
            target=target,
            demo=demo,
            worker=n,
            users=users[n],
            rate=open_share.rate if open_share else None,
            think_time=load.think_time if isinstance(load, ClosedModel) else 0.0,
            max_in_flight=open_share.max_in_flight if open_share else 1,
            ramp_up=load.ramp_up,
            duration=options.get("duration"),
            iterations=counts[n],
            warmup=options.get("warmup", 0.0),
            cooldown=options.get("cooldown", 5.0),
            timeout=options.get("timeout", 5.0),
            seed=None if seed is None else seed + n,
        )
        for n in range(workers)
    ]


async def run_distributed(
    target: str,
    *,
    workers: int,
    rt: Runtime,
    demo: bool = False,
    options: dict[str, Any],
    test: LoadTest | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_worker_lost: Literal["stop", "continue"] = "stop",
    on_started: Callable[[Sequence[int]], None] | None = None,
) -> LoadTestResult:
    """Run ``target`` (``path.py[:name]``) in ``workers`` processes; see the module doc.

    ``options`` are :func:`bastion.loadtest.run`'s keywords (``load``, ``duration`` or
    ``iterations``, ``warmup``, ``cooldown``, ``timeout``, ``thresholds``, ``seed``).
    ``on_started`` gets the workers' process ids once all are set up.
    """
    if on_worker_lost not in ("stop", "continue"):
        raise ValueError(f"on_worker_lost must be 'stop' or 'continue', got {on_worker_lost!r}")
    plan = validate_plan(
        options["load"], options.get("duration"), options.get("iterations"),
        options.get("warmup", 0.0), options.get("cooldown", 5.0), options.get("timeout", 5.0),
        0.5, 3600.0,
    )  # fmt: skip
    starts = _starts(target, demo, workers, options)
    thresholds = prepare_thresholds(options.get("thresholds", ()), test) if test else []
    pool = [await _spawn(n) for n in range(workers)]
    readers = [rt.tasks.start(_read, w, name=f"loadtest-worker-{w.number}-reader") for w in pool]
    try:
        for worker, start in zip(pool, starts, strict=True):
            _send(worker, start)
        await _all_ready(pool)
        if on_started is not None:
            on_started([w.process.pid for w in pool])
        for worker in pool:
            _send(worker, Go())
        await _supervise(pool, readers, plan.progress_interval, on_progress, on_worker_lost)
    finally:
        await _reap(pool, readers)
    reports = [_report(w) for w in pool]
    parts = [w.measurements for w in pool if w.measurements is not None]
    if not parts:
        reasons = "; ".join(f"worker {r.worker}: {r.detail}" for r in reports)
        raise LoadTestError(f"no worker process reported: {reasons}")
    return summarise(
        merge_measurements(parts),
        model=f"{describe_model(plan.load)} over {workers} processes",
        thresholds=thresholds,
        workers=reports,
    )


async def _spawn(number: int) -> _Worker:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bastion.loadtest._worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    return _Worker(number, process)


def _send(worker: _Worker, message: Start | Go | Stop) -> None:
    stdin = worker.process.stdin
    if stdin is not None and not stdin.is_closing() and worker.process.returncode is None:
        stdin.write(frame(message))


async def _read(worker: _Worker) -> None:
    """Read one worker's frames until it reports or its pipe closes."""
    stdout = worker.process.stdout
    assert stdout is not None
    try:
        while worker.measurements is None and worker.failure is None:
            header = await stdout.readexactly(4)
            message = decode_frame(
                await stdout.readexactly(read_frame_size(header)), to_worker=False
            )
            if isinstance(message, Ready):
                worker.ready.set()
            elif isinstance(message, Tick):
                worker.tick = message
            elif isinstance(message, Done):
                worker.measurements = message.measurements
            elif isinstance(message, Failed):
                worker.failure = message.message
    except asyncio.IncompleteReadError:
        worker.failure = worker.failure or "exited without reporting"
    finally:
        worker.ready.set()  # a dead worker must not hold the others back


async def _all_ready(pool: list[_Worker]) -> None:
    async with asyncio.timeout(SETUP_TIMEOUT):
        for worker in pool:
            await worker.ready.wait()
    failed = [w for w in pool if w.failure is not None]
    if failed:
        first = failed[0]
        raise LoadTestError(f"worker {first.number} could not start: {first.failure}")


async def _supervise(
    pool: list[_Worker],
    readers: list[asyncio.Task[None]],
    interval: float,
    on_progress: Callable[[Progress], None] | None,
    on_worker_lost: str,
) -> None:
    """Until every reader is done: report progress; react to a worker that died."""
    pending = set(readers)
    stopped = False
    while pending:
        _, pending = await asyncio.wait(pending, timeout=interval)
        if not stopped and on_worker_lost == "stop" and any(w.failure for w in pool):
            stopped = True
            for worker in pool:
                _send(worker, Stop())
        if on_progress is not None:
            on_progress(_progress(pool))


def _progress(pool: list[_Worker]) -> Progress:
    ticks = [w.tick for w in pool if w.tick is not None]
    return Progress(
        elapsed=max((t.elapsed for t in ticks), default=0.0),
        phase=ticks[0].phase if ticks else "warmup",
        iterations=sum(t.iterations for t in ticks),
        failed=sum(t.failed for t in ticks),
        rate=sum(t.rate for t in ticks),
        p99_ms=max((t.p99_ms for t in ticks), default=0.0),  # the slowest worker's
        in_flight=sum(t.in_flight for t in ticks),
    )


async def _reap(pool: list[_Worker], readers: list[asyncio.Task[None]]) -> None:
    """Every worker process exits (told to stop, then terminated, then killed)."""
    for worker in pool:
        if worker.process.returncode is None and worker.measurements is None:
            _send(worker, Stop())
        if worker.process.stdin is not None:
            worker.process.stdin.close()
    for worker in pool:
        try:
            async with asyncio.timeout(EXIT_GRACE):
                await worker.process.wait()
        except TimeoutError:
            worker.process.kill()
            await worker.process.wait()
    for reader in readers:
        reader.cancel()
    await asyncio.wait(readers, timeout=EXIT_GRACE)


def _report(worker: _Worker) -> WorkerReport:
    code = worker.process.returncode
    if worker.measurements is not None:
        return WorkerReport(worker.number, code, True)
    detail = worker.failure or "exited without reporting"
    if code is not None and code < 0:
        detail = f"killed by {signal.Signals(-code).name}"
    return WorkerReport(worker.number, code, False, detail)


def run_workers(
    *,
    target: str | None,
    demo: bool,
    workers: int,
    options: dict[str, Any],
    test: LoadTest | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> LoadTestResult | None:
    """The CLI's entry: :func:`run_distributed` under ``bastion.run`` (None: interrupted)."""
    from bastion._core._run import run
    from bastion._core._runtime import current_runtime

    async def main() -> LoadTestResult:
        return await run_distributed(
            target or "", workers=workers, rt=current_runtime(), demo=demo, options=options,
            test=test, on_progress=on_progress,
        )  # fmt: skip

    return run(main)
