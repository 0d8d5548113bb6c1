# rules: BAS6
# module: app.poller
import asyncio
import time


async def poll():
    await asyncio.sleep(1.0)
    time.sleep(0.1)
