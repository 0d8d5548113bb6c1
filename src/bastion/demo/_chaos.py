"""The chaos actor: kills a random worker now and then, like a flaky machine would."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from bastion import Actor, ActorError

__all__ = ["ChaosMonkey", "InjectedCrash"]

TICK_SECONDS = 0.1


class InjectedCrash(ActorError):
    """The reason a worker was killed by the demo's chaos actor."""


class ChaosMonkey(Actor):
    """Every 100 ms, with probability ``kill_chance``, kills one live worker."""

    def __init__(self, workers: Sequence[str], kill_chance: float, seed: int) -> None:
        self.workers = tuple(workers)
        self.kill_chance = kill_chance
        self.random = random.Random(f"{seed}:chaos")
        self.kills = 0

    def on_start(self) -> None:
        """Start ticking unless chaos is off."""
        if self.kill_chance > 0 and self.workers:
            self.send_interval(TICK_SECONDS, "tick")

    def handle_info(self, message: Any) -> None:
        """On each tick maybe kill a worker (its supervisor restarts it)."""
        if message != "tick" or self.random.random() >= self.kill_chance:
            return
        victim = self.runtime.whereis(self.random.choice(self.workers))
        if victim is not None:
            self.kills += 1
            victim.kill(InjectedCrash(f"chaos kill #{self.kills}"))

    def handle_call(self, message: Any) -> int:
        """Answer the number of kills so far."""
        return self.kills
