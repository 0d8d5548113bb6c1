"""The pytest plugin, run on inner test files: fixtures, deadlocks, the leak check."""

from __future__ import annotations

import pytest

HEADER = """
import asyncio
import pytest
import bastion
from bastion.testing import Probe, VirtualClock

class Sleeper(bastion.Actor):
    def handle_call(self, message):
        return message
"""


@pytest.fixture(autouse=True)
def _inner_runs_on_virtual_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner tests assert virtual-clock behaviour whatever clock the outer run uses."""
    monkeypatch.setenv("BASTION_REAL_TIME", "0")


def run_inner(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    """Run ``body`` as a project where Bastion is the only async test plugin."""
    pytester.makepyfile(test_inner=HEADER + body)
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:anyio", "-q", *args, timeout=120
    )


def test_async_tests_get_a_runtime_clock_and_probe(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
async def test_uses_everything(rt, runtime, clock, probe):
    assert rt is runtime
    assert isinstance(rt, bastion.Runtime)
    assert isinstance(clock, VirtualClock)
    assert isinstance(probe, Probe)
    ref = await rt.spawn(Sleeper)
    assert await ref.call("hi", timeout=1.0) == "hi"
    await clock.advance(3600)
    await ref.stop()
""",
    )
    result.assert_outcomes(passed=1)


def test_a_deadlocked_test_fails_fast_with_a_dump(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
async def test_stuck(rt):
    await rt.spawn(Sleeper, name="idle-one")
    await asyncio.get_running_loop().create_future()
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*DeadlockError*", "*test_stuck*", "*Sleeper(idle-one)*"])


def test_leftover_actors_and_tasks_fail_the_test_with_a_list(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
async def test_leaves_an_actor(rt):
    await rt.spawn(Sleeper, name="forgotten")

async def test_leaves_a_task():
    async def forever():
        await asyncio.Event().wait()
    asyncio.get_running_loop().create_task(forever(), name="stray-task")

async def test_leaves_a_timer():
    asyncio.get_running_loop().call_later(100, print)

@pytest.mark.bastion(leak_check=False)
async def test_opted_out(rt):
    await rt.spawn(Sleeper)
""",
    )
    result.assert_outcomes(passed=1, errors=0, failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "*Sleeper(forgotten) still alive*",
            "*stray-task*",
            "*timer due at 100.000000*",
        ]
    )


def test_real_time_switch_runs_the_same_test_on_the_real_clock(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = """
async def test_clock(clock):
    print("VIRTUAL" if clock.virtual else "REAL")
"""
    monkeypatch.setenv("BASTION_REAL_TIME", "1")
    run_inner(pytester, body, "-s").stdout.fnmatch_lines(["*REAL*"])
    monkeypatch.setenv("BASTION_REAL_TIME", "0")
    run_inner(pytester, body, "-s").stdout.fnmatch_lines(["*VIRTUAL*"])


def test_marker_options_and_unknown_ones(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
@pytest.mark.bastion(real_time=True, io_grace=0.2, runtime={"call_timeout": 0.25})
async def test_real(clock, rt):
    assert not clock.virtual
    assert rt.call_timeout == 0.25

@pytest.mark.bastion(colour="blue")
async def test_typo():
    pass
""",
    )
    result.assert_outcomes(passed=1, errors=0, failed=1)
    result.stdout.fnmatch_lines(["*unknown bastion marker options*colour*"])


def test_async_fixtures_in_a_sync_test_are_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
def test_sync(rt):
    pass
""",
    )
    result.stdout.fnmatch_lines(["*need an `async def` test*"])
