"""``workers=N``: worker processes report measurements that add up exactly; a worker
killed with ``kill -9`` is reported, and the run stops cleanly or continues (real
processes, real time: the durations are short)."""

from __future__ import annotations

import os
import signal
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pytest

import bastion
from bastion import loadtest as lt
from bastion.loadtest._workers import run_distributed, shares

SCENARIOS = textwrap.dedent(
    """
    import asyncio

    from bastion import loadtest as lt


    async def fast(user):
        await asyncio.sleep(0.001)


    test = lt.LoadTest([lt.Scenario("fast", fast)])
    """
)


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios.py"
    path.write_text(SCENARIOS, encoding="utf-8")
    return path


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def distributed(
    target: Path,
    *,
    duration: float,
    kill_first: bool = False,
    on_worker_lost: Literal["stop", "continue"] = "stop",
) -> tuple[lt.LoadTestResult | None, list[int]]:
    pids: list[int] = []
    killed: list[int] = []

    def started(ids: Sequence[int]) -> None:
        pids.extend(ids)

    def progress(reading: lt.Progress) -> None:
        if kill_first and not killed and reading.iterations > 0:
            killed.append(pids[0])
            os.kill(pids[0], signal.SIGKILL)

    async def main() -> lt.LoadTestResult:
        return await run_distributed(
            f"{target}:test",
            workers=2,
            rt=bastion.current_runtime(),
            options={"load": lt.ClosedModel(users=4), "duration": duration, "cooldown": 1.0,
                     "thresholds": ["error_rate < 1%"]},
            test=None,
            on_progress=progress,
            on_worker_lost=on_worker_lost,
            on_started=started,
        )  # fmt: skip

    return bastion.run(main), pids


def test_workers_report_and_their_measurements_add_up(scenario_file: Path) -> None:
    result, pids = distributed(scenario_file, duration=1.0)
    assert result is not None
    assert [w.reported for w in result.workers] == [True, True]
    assert result.passed
    assert result.overall.iterations > 0
    assert result.overall.iterations == sum(s.iterations for s in result.series)
    assert "over 2 processes" in result.model
    assert all(gone(pid) for pid in pids)


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_a_worker_killed_with_kill_9_is_reported(
    scenario_file: Path, policy: Literal["stop", "continue"]
) -> None:
    # "stop" ends long before its 30 s; "continue" runs its 2 s window to the end
    duration = 30.0 if policy == "stop" else 2.0
    result, pids = distributed(
        scenario_file, duration=duration, kill_first=True, on_worker_lost=policy
    )
    assert result is not None
    lost, survivor = result.workers
    assert not lost.reported
    assert lost.detail == "killed by SIGKILL"
    assert lost.exit_code == -signal.SIGKILL
    assert survivor.reported
    assert not result.passed  # a lost worker fails the run
    assert result.overall.iterations > 0  # the survivor's measurements are kept
    assert all(gone(pid) for pid in pids)
    if policy == "stop":  # the survivor was told to stop: its window closed early
        assert result.duration < duration
    else:  # the survivor's window closed on its own timer, at its end exactly
        assert result.duration == duration


def test_shares_split_evenly() -> None:
    assert shares(10, 3) == [4, 3, 3]
    assert shares(2, 2) == [1, 1]
