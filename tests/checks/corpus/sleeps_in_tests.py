# rules: BAS6
# test-file
# module: tests.test_sleeps
import asyncio
import time
from asyncio import sleep as asleep

import anyio
import trio


def test_sync():
    time.sleep(0.1)  # error: BAS601


async def test_async(ref):
    await asyncio.sleep(0.5)  # error: BAS601
    await asleep(1)  # error: BAS601
    await trio.sleep(2)  # error: BAS601
    await anyio.sleep(0.01)  # error: BAS601
    await asyncio.sleep(0)
    await anyio.sleep(0)


class FakeClock:
    async def sleep(self, delay):
        return delay


async def test_virtual(clock):
    await clock.sleep(10)
