"""find_sleeps: the one sleep finder, shared with bastion.testing."""

from __future__ import annotations

from bastion.checks import find_sleeps
from tests.checks.conftest import Write

SOURCE = """\
import asyncio
import time


async def test_cast_then_check(ref, rt):
    await ref.cast("add")
    await asyncio.sleep(0.2)
    result = compute()


async def test_condition(counter):
    await asyncio.sleep(0.1)
    assert counter.value == 3


async def test_probe(probe):
    await asyncio.sleep(0.1)
    probe.received("x")


async def test_restart_backoff(sup):
    await asyncio.sleep(5)
    result = sup.restarts


async def test_checkpoint():
    await asyncio.sleep(0)


async def test_blocking_in_async(ref):
    time.sleep(0.01)
    assert await ref.call("get") == 1
"""


def test_each_sleep_gets_the_matching_toolkit_suggestion(write: Write) -> None:
    sites = find_sleeps([write("tests/test_s.py", SOURCE)])
    by_test = {s.symbol.rpartition(".")[2]: s for s in sites}
    assert len(sites) == 6
    assert "rt.wait_idle()" in by_test["test_cast_then_check"].suggestion
    assert "wait_for(lambda: counter.value == 3" in by_test["test_condition"].suggestion
    assert "probe.assert_receive" in by_test["test_probe"].suggestion
    assert "virtual time" in by_test["test_restart_backoff"].suggestion
    checkpoint = by_test["test_checkpoint"]
    assert checkpoint.is_checkpoint
    assert checkpoint.seconds == 0
    blocking = by_test["test_blocking_in_async"]
    assert blocking.suggestion.startswith("time.sleep blocks the event loop")
    assert "wait_for_state" in blocking.suggestion
    assert (blocking.function, blocking.line, blocking.in_async) == ("time.sleep", 31, True)


def test_find_sleeps_looks_at_every_file_given(write: Write) -> None:
    path = write("src/poller.py", "import time\n\ndef poll():\n    time.sleep(1)\n")
    [site] = find_sleeps([path])
    assert site.seconds == 1.0
    assert not site.is_checkpoint
