"""Declared real work (another process answering) keeps virtual time from jumping."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from bastion.testing import VirtualTimeLoop

CHILD = "import sys, time; time.sleep(0.3); sys.stdout.write('ready'); sys.stdout.flush()"


async def _answer_within(timeout: float, *, declare: bool) -> bytes:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    child_args = [sys.executable, "-c", CHILD]
    with subprocess.Popen(child_args, stdout=subprocess.PIPE) as child:  # noqa: ASYNC220 -- a raw pipe fd is the point of the test
        assert child.stdout is not None
        answer: asyncio.Future[bytes] = loop.create_future()
        fd = child.stdout.fileno()
        loop.add_reader(fd, lambda: answer.done() or answer.set_result(child.stdout.read(5)))
        if declare:
            loop.real_work_started()
        try:
            async with asyncio.timeout(timeout):
                return await answer
        finally:
            if declare:
                loop.real_work_finished()
            loop.remove_reader(fd)
            child.kill()


@pytest.mark.bastion(real_time=False)
async def test_declared_real_work_lets_the_child_answer_before_the_deadline() -> None:
    assert await _answer_within(5.0, declare=True) == b"ready"


@pytest.mark.bastion(real_time=False)
async def test_undeclared_pipe_work_is_jumped_past_after_the_io_grace() -> None:
    with pytest.raises(TimeoutError):
        await _answer_within(5.0, declare=False)
