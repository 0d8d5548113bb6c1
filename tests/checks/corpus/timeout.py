# rules: BAS4
# module: app.timeouts
import asyncio
import contextvars
import math
import queue
import threading

_var = contextvars.ContextVar("v", default=None)


async def async_positives(ref, msg, aw):
    await ref.call(msg, timeout=None)  # error: BAS401
    await ref.call(msg, timeout=math.inf)  # error: BAS401
    await ref.call(msg, timeout=float("inf"))  # error: BAS401
    await asyncio.wait_for(aw, None)  # error: BAS401
    async with asyncio.timeout(None):  # error: BAS401
        pass


def sync_positives(future, thread, proc):
    q = queue.Queue()
    event = threading.Event()
    lock = threading.Lock()
    future.result()  # error: BAS402
    q.get()  # error: BAS402
    q.get(True)  # error: BAS402
    event.wait()  # error: BAS402
    lock.acquire()  # error: BAS402
    thread.join()  # error: BAS402
    proc.wait()  # error: BAS402


async def async_negatives(ref, msg, q, event):
    await ref.call(msg)
    await ref.call(msg, timeout=5.0)
    await q.get()
    await event.wait()
    await asyncio.wait_for(q.get(), 2)


def sync_negatives(d, future, thread, task, parts):
    q = queue.Queue()
    lock = threading.Lock()
    value = d.get("key")
    q.get(block=False)
    q.get(timeout=1)
    lock.acquire(blocking=False)
    lock.acquire(timeout=1.0)
    thread.join(timeout=2)
    future.result(timeout=3)
    current = _var.get()
    joined = ",".join(parts)
    if task.done():
        task.result()
    return value, current, joined


class Holder:
    task: asyncio.Task[int]

    def value(self):
        return self.task.result()


def defaults(timeout=None):
    return timeout


def test_rejects_none(ref, pytest):
    import pytest

    with pytest.raises(ValueError):
        ref.call("x", timeout=None)
