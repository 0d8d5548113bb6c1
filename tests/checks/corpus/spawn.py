# rules: BAS2
# module: app.workers
import asyncio
import asyncio as aio
import multiprocessing
import os
import threading
from asyncio import create_task
from concurrent.futures import ThreadPoolExecutor


async def positives(coro, loop, fn):
    asyncio.create_task(coro)  # error: BAS201
    aio.ensure_future(coro)  # error: BAS201
    create_task(coro)  # error: BAS201
    loop.create_task(coro)  # error: BAS201
    asyncio.get_running_loop().create_task(coro)  # error: BAS201
    await loop.run_in_executor(None, fn)  # error: BAS201
    await asyncio.to_thread(fn)  # error: BAS201


def sync_positives(fn):
    threading.Thread(target=fn).start()  # error: BAS201
    multiprocessing.Process(target=fn).start()  # error: BAS201
    with ThreadPoolExecutor() as pool:  # error: BAS201
        pool.submit(fn)
    pid = os.fork()  # error: BAS201
    return pid


class Worker(threading.Thread):  # error: BAS201
    pass


async def negatives(rt, coro, fn):
    async with asyncio.TaskGroup() as tg:
        tg.create_task(coro)
    rt.tasks.start(coro)
    await rt.tasks.run(coro)
    await rt.tasks.run_blocking(fn)
    event = threading.Event()
    return event


def uses_local():
    def create_task(x):  # a local function of the same name shadows the import
        return x

    return create_task(1)
