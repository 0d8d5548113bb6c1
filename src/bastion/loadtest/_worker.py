"""A load-test worker process: ``python -m bastion.loadtest._worker``.

Reads a :class:`Start` frame on stdin, imports the scenario file, sets up, answers
:class:`Ready`, waits for :class:`Go`, runs its share of the load (progress as
:class:`Tick` frames) and ends with :class:`Done` (or :class:`Failed`). A :class:`Stop`
closes the window early. Frames go to the original stdout; ``print`` in scenarios goes
to stderr so it cannot corrupt them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

from bastion._core._errors import BastionError
from bastion._core._run import run
from bastion._core._runtime import current_runtime
from bastion.loadtest._chaos import ChaosLog
from bastion.loadtest._driver import Plan, Progress
from bastion.loadtest._loader import load_target
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
from bastion.loadtest._recorder import Measurements
from bastion.loadtest._run import RunControl, measure, validate_plan
from bastion.loadtest._scenario import LoadTest

__all__ = ["main"]


class _Channel:
    """Frames out on the saved stdout; frames in from stdin."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.reader: asyncio.StreamReader | None = None

    def send(self, message: Ready | Tick | Done | Failed) -> None:
        self.out.write(frame(message))
        self.out.flush()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.reader = asyncio.StreamReader()
        protocol = asyncio.StreamReaderProtocol(self.reader)
        await loop.connect_read_pipe(lambda: protocol, sys.stdin.buffer)

    async def receive(self) -> object:
        assert self.reader is not None
        header = await self.reader.readexactly(4)
        body = await self.reader.readexactly(read_frame_size(header))
        return decode_frame(body, to_worker=True)


def _load(start: Start) -> ClosedModel | OpenModel:
    if start.users is not None:
        return ClosedModel(start.users, think_time=start.think_time, ramp_up=start.ramp_up)
    assert start.rate is not None
    return OpenModel(start.rate, ramp_up=start.ramp_up, max_in_flight=start.max_in_flight)


def _test(start: Start, scratch: Path) -> LoadTest:
    if start.demo:
        from bastion.loadtest._demo import demo_load_test

        return demo_load_test(scratch / f"worker-{start.worker}.db")
    return load_target(start.target)


async def _work(channel: _Channel, scratch: Path) -> None:
    await channel.open()
    start = await channel.receive()
    assert isinstance(start, Start), f"expected Start, got {start!r}"
    test = _test(start, scratch)
    plan: Plan = validate_plan(
        _load(start), start.duration, start.iterations, start.warmup, start.cooldown,
        start.timeout, start.progress_interval, 3600.0,
    )  # fmt: skip
    rt = current_runtime()
    context = await test.setup(rt) if test.setup is not None else None
    try:
        channel.send(Ready(os.getpid()))
        go = await channel.receive()
        assert isinstance(go, Go), f"expected Go, got {go!r}"
        control = RunControl()
        listener = rt.tasks.start(_listen, channel, control, name="loadtest-worker-commands")

        def tick(p: Progress) -> None:
            channel.send(Tick(p.elapsed, p.phase, p.iterations, p.failed, p.rate, p.p99_ms,
                              p.in_flight))  # fmt: skip

        try:
            measurements: Measurements = await measure(
                rt, test, plan, start.iterations, start.timeout, context, None,
                ChaosLog(), tick, start.seed, control,
            )  # fmt: skip
        finally:
            listener.cancel()
        channel.send(Done(measurements))
    finally:
        if test.teardown is not None:
            await test.teardown(rt, context)


async def _listen(channel: _Channel, control: RunControl) -> None:
    """Stop frames close the window early; end of input (the parent died) too."""
    try:
        while True:
            message = await channel.receive()
            if isinstance(message, Stop):
                control.stop()
    except asyncio.IncompleteReadError:
        control.stop()


def main() -> int:
    """Run one worker; the exit status says whether it reported."""
    logging.getLogger("bastion").setLevel(logging.CRITICAL)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # print() goes to stderr now
    channel = _Channel(out)
    with tempfile.TemporaryDirectory(prefix="bastion-loadtest-worker-") as scratch:
        try:
            run(_work, channel, Path(scratch))
        except (BastionError, OSError, ValueError, TypeError, asyncio.IncompleteReadError) as exc:
            channel.send(Failed(f"{type(exc).__name__}: {exc}"))
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
