"""Shared pieces of the agent benchmarks: a CPU-spinning task handler and a finish counter."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import bastion
from bastion.agents import Task, TaskFinished


def spin(task: Task) -> int:
    """Busy-wait ``task.payload`` seconds: simulated CPU work that holds the loop."""
    end = time.perf_counter() + task.payload
    while time.perf_counter() < end:
        pass
    return 0


class Collector(bastion.Actor):
    """Counts TaskFinished notices; sets ``done`` at ``target``."""

    def __init__(self, target: int, done: asyncio.Event) -> None:
        self.target, self.done, self.count = target, done, 0

    def handle_cast(self, message: Any) -> None:
        if isinstance(message, TaskFinished):
            self.count += 1
            if self.count >= self.target:
                self.done.set()
