"""Property: kills at random points of children's start, work, stop and restart.

Children take (virtual) time to start, to answer and to stop, and their shutdown
timeout is shorter than some of their ``on_stop``s, so random kills land in every
phase: before the task ran, during ``on_start`` (also while the supervisor restarts
the child), mid-handler, during ``on_stop`` and during the supervisor's own kill after
the shutdown timeout. Whatever the schedule, the supervisor dies only by exceeding its
restart intensity (with an escalation event), never from a kill meant for a child, and
the runtime's bookkeeping stays exact.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import bastion
from bastion import Backoff, ChildSpec, Strategy
from bastion.testing import VirtualClock, capture_events, run

NAMES = ("a", "b", "c")
PAUSES = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05)


class Fault(Exception):
    """The reason of an injected kill."""


class Phased(bastion.Actor):
    """Spends virtual time in ``on_start``, in calls and in ``on_stop``."""

    def __init__(self, tag: str, start_s: float, stop_s: float) -> None:
        self.tag = tag
        self.start_s = start_s
        self.stop_s = stop_s

    async def on_start(self) -> None:
        await self.runtime.clock.sleep(self.start_s)

    async def on_stop(self, reason: Any) -> None:
        await self.runtime.clock.sleep(self.stop_s)

    async def handle_call(self, message: Any) -> Any:
        await self.runtime.clock.sleep(0.002)
        return self.tag


def _children(timings: list[tuple[float, float]]) -> list[ChildSpec]:
    return [
        ChildSpec(name, Phased, (name, start_s, stop_s), name=name, shutdown=0.01)
        for name, (start_s, stop_s) in zip(NAMES, timings, strict=True)
    ]


async def _drive(
    strategy: str,
    max_restarts: int,
    backoff: bool,
    timings: list[tuple[float, float]],
    kills: list[tuple[float, int]],
) -> None:
    clock = VirtualClock()
    stop_event = ("bastion", "actor", "stop")
    with capture_events(stop_event, ("bastion", "supervisor", "escalation")) as events:
        async with bastion.open_runtime() as rt:
            sup = await rt.start_supervisor(
                _children(timings),
                strategy=strategy,
                intensity=bastion.RestartIntensity(max_restarts, max_seconds=3600.0),
                backoff=Backoff(initial=0.005, seed=1) if backoff else None,
            )
            for number, (pause, index) in enumerate(kills):
                await clock.advance(pause)
                target = rt.whereis(NAMES[index])
                if target is not None:
                    target.kill(Fault(number))
            await clock.advance(1.0)  # backoff restarts and slow stops finish
            await rt.wait_idle(timeout=10.0)
            landed = sum(isinstance(e.metadata["reason"], Fault) for e in events.named(*stop_event))
            if sup.ref.is_alive:
                assert [await rt.ref(n).call("tag", timeout=1.0) for n in NAMES] == list(NAMES)
                assert sup.statistics().restarts_in_window <= landed
                assert events.count("bastion", "supervisor", "escalation") == 0
            else:
                reason = await sup.ref.wait_stopped(timeout=1.0)
                assert isinstance(reason, bastion.RestartIntensityExceeded), reason
                assert landed > max_restarts
                assert events.count("bastion", "supervisor", "escalation") == 1
                assert all(rt.whereis(n) is None for n in NAMES)
        stats = rt.statistics()
        assert (stats.actors, stats.busy_actors) == (0, 0)
        assert stats.spawned == stats.stopped


@settings(max_examples=60, deadline=None)
@given(
    strategy=st.sampled_from([s.value for s in Strategy]),
    max_restarts=st.integers(min_value=0, max_value=6),
    backoff=st.booleans(),
    timings=st.lists(
        st.tuples(st.sampled_from(PAUSES), st.sampled_from(PAUSES)), min_size=3, max_size=3
    ),
    kills=st.lists(
        st.tuples(st.sampled_from(PAUSES), st.integers(min_value=0, max_value=len(NAMES) - 1)),
        max_size=8,
    ),
)
def test_kills_at_any_phase_never_take_a_supervisor_down_within_its_intensity(
    strategy: str,
    max_restarts: int,
    backoff: bool,
    timings: list[tuple[float, float]],
    kills: list[tuple[float, int]],
) -> None:
    run(_drive, strategy, max_restarts, backoff, timings, kills)
