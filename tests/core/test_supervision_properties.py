"""Property: random crash schedules through a supervision tree.

Within the restart intensity no permanent child stays dead; beyond it the supervisor
escalates (stops its children and dies with RestartIntensityExceeded).
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import bastion
from bastion import ChildSpec, Strategy
from bastion.testing import run
from tests.core.conftest import Echo

NAMES = ("a", "b", "c", "d")


async def _drive(strategy: str, max_restarts: int, crashes: list[int]) -> None:
    async with bastion.open_runtime() as rt:
        children = [ChildSpec(n, Echo, (n,), name=n) for n in NAMES]
        sup = await rt.start_supervisor(
            children,
            strategy=strategy,
            intensity=bastion.RestartIntensity(max_restarts, max_seconds=3600.0),
        )
        for index in crashes:
            target = rt.whereis(NAMES[index])
            if target is None:
                break
            with contextlib.suppress(bastion.ActorCrashed):
                await target.call("crash")
            await rt.wait_idle(timeout=5.0)
        escalated = len(crashes) > max_restarts
        if escalated:
            reason: Any = await sup.ref.wait_stopped(timeout=5.0)
            assert isinstance(reason, bastion.RestartIntensityExceeded)
            assert all(rt.whereis(n) is None for n in NAMES)
            assert rt.statistics().escalations == 1
        else:
            assert sup.ref.is_alive
            for name in NAMES:
                assert await rt.ref(name).call(name, timeout=1.0) == name
            assert sup.statistics().restarts_in_window == len(crashes)
            assert rt.statistics().escalations == 0


@settings(max_examples=40, deadline=None)
@given(
    strategy=st.sampled_from([s.value for s in Strategy]),
    max_restarts=st.integers(min_value=0, max_value=4),
    crashes=st.lists(st.integers(min_value=0, max_value=len(NAMES) - 1), max_size=7),
)
def test_random_crash_schedules_restart_within_intensity_and_escalate_beyond(
    strategy: str, max_restarts: int, crashes: list[int]
) -> None:
    run(_drive, strategy, max_restarts, crashes)
