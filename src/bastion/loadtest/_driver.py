"""The load-test driver: an actor under the load test's supervisor that owns the users.

Users (closed model) and in-flight slots (open model) are supervised tasks
(``rt.tasks``) started by the driver; the driver tracks them, closes the window on its
timer, drains in-flight iterations for ``cooldown`` seconds, cancels what is left and
answers the caller's call with nothing left running. Stopping the driver (the run was
cancelled, Ctrl-C) cancels and awaits every user in ``on_stop``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bastion._core._actor import Actor
from bastion._core._replies import NoReply, ReplyHandle
from bastion.loadtest._engine import (
    WATCH_RESOLUTION,
    Arrivals,
    Engine,
    closed_user,
    open_slot,
)
from bastion.loadtest._models import ClosedModel, OpenModel
from bastion.loadtest._scenario import User

__all__ = ["Driver", "Plan", "Progress"]

START, STOP, DRAINED, TICK, WATCH = "start", "stop", "drain-over", "tick", "watch"


@dataclass(frozen=True, slots=True)
class Plan:
    """When and how the driver applies load (validated by ``run``)."""

    load: ClosedModel | OpenModel
    duration: float | None
    max_duration: float
    warmup: float
    cooldown: float
    progress_interval: float


@dataclass(frozen=True, slots=True)
class Progress:
    """A live reading for a progress display (telemetry: it never steers the run)."""

    elapsed: float
    phase: str  # "warmup", "load", "cooldown"
    iterations: int
    failed: int
    rate: float  # recorded iterations per second so far
    p99_ms: float  # over the last two seconds
    in_flight: int


class Driver(Actor):
    """Starts the users, closes the window, drains, and answers the ``start`` call."""

    def __init__(
        self,
        engine: Engine,
        plan: Plan,
        context: Any,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.engine = engine
        self.plan = plan
        self.context = context
        self.on_progress = on_progress
        self.users: dict[asyncio.Task[None], User] = {}
        self.handle: ReplyHandle | None = None
        self.started_at = 0.0
        self.stopped_at: float | None = None
        self.crashed_users = 0

    def handle_call(self, message: object) -> object:
        """``start``: apply the load; the reply comes when nothing is left running."""
        if message != START or self.handle is not None:
            raise ValueError(f"the driver takes one {START!r} call, got {message!r}")
        self.handle = self.reply_handle()
        self._start()
        return NoReply

    def handle_cast(self, message: object) -> None:
        """``stop``: the iteration budget is spent."""
        if message == STOP:
            self._close_window()

    def handle_info(self, message: object) -> None:
        """Timers: close the window, end the drain, report progress."""
        if message == STOP:
            self._close_window()
        elif message == DRAINED:
            for task in self.users:
                task.cancel()
        elif message == WATCH:
            self.engine.expire(self.users.items())
        elif message == TICK and self.on_progress is not None:
            self.on_progress(self._progress())

    async def on_stop(self, reason: object) -> None:
        """Cancel every user still running and wait for them."""
        tasks = list(self.users)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self.plan.cooldown + 5.0)

    def _start(self) -> None:
        engine, plan = self.engine, self.plan
        now = engine.now()
        self.started_at = now
        engine.warm_end = now + plan.warmup
        engine.recorder.origin = engine.warm_end
        if plan.duration is not None:
            engine.end = engine.warm_end + plan.duration
            self.send_after(plan.warmup + plan.duration, STOP)
        else:
            self.send_after(plan.warmup + plan.max_duration, STOP)
            engine.on_exhausted = lambda: self.ref.cast_nowait(STOP)
        if self.on_progress is not None:
            self.send_interval(plan.progress_interval, TICK)
        self.send_interval(engine.timeout / WATCH_RESOLUTION, WATCH)
        load = plan.load
        if isinstance(load, ClosedModel):
            for number in range(load.users):
                at = now + load.ramp_up * number / load.users
                self._spawn(closed_user, number, at, load.think_time)
        else:
            arrivals = Arrivals(load.schedule(), now)
            for number in range(load.max_in_flight):
                self._spawn(open_slot, number, arrivals)

    def _spawn(self, loop_fn: Callable[..., Any], number: int, *args: object) -> None:
        user = User(self.runtime, number, self.context)
        if self.engine.drop_casts:
            user.drop_cast = self.engine.drop_cast
        task = self.runtime.tasks.start(
            loop_fn, self.engine, user, *args, name=f"loadtest-user-{number}"
        )
        self.users[task] = user
        task.add_done_callback(self._user_done)

    def _user_done(self, task: asyncio.Task[None]) -> None:
        self.users.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            self.crashed_users += 1
        if not self.users:
            self._finish()

    def _close_window(self) -> None:
        if self.stopped_at is not None:
            return
        engine = self.engine
        self.stopped_at = min(engine.now(), engine.end)
        engine.stopping = True
        for task, user in self.users.items():
            if not user.busy:  # thinking or waiting for an arrival: nothing to drain
                task.cancel()
        if self.plan.cooldown > 0:
            self.send_after(self.plan.cooldown, DRAINED)
        else:
            self.handle_info(DRAINED)

    def _finish(self) -> None:
        if self.handle is None or not self.handle.pending:
            return
        engine = self.engine
        stopped = self.stopped_at
        if stopped is None:  # every user ended by itself: the window still is the plan's
            stopped = engine.end if self.plan.duration is not None else engine.now()
        engine.recorder.window = max(0.0, stopped - engine.warm_end)
        self.handle.reply(self.crashed_users)

    def _progress(self) -> Progress:
        engine = self.engine
        now = engine.now()
        recorder = engine.recorder
        if now < engine.warm_end:
            phase = "warmup"
        elif self.stopped_at is None:
            phase = "load"
        else:
            phase = "cooldown"
        recorded = max(1e-9, min(now, self.stopped_at or now) - engine.warm_end)
        return Progress(
            elapsed=round(now - self.started_at, 3),
            phase=phase,
            iterations=recorder.completed,
            failed=recorder.failures,
            rate=recorder.completed / recorded if now > engine.warm_end else 0.0,
            p99_ms=round(recorder.recent().percentile(99) * 1000, 3),
            in_flight=sum(user.busy for user in self.users.values()),
        )
