"""Closing the event loop of ``bastion.run`` within a bound, whatever user code does.

``asyncio.run`` cancels the tasks left when its main coroutine returns and then waits
for them without a deadline, so one task that swallows ``CancelledError`` keeps the
process alive forever (issue 18, item 4). Here every wait has a deadline: leftover
tasks are cancelled and get ``grace`` seconds to finish, and whatever still runs then
is abandoned, with an error log naming it, when the loop closes. The test toolkit
closes its loops the same way and fails the test with the names :func:`close_loop`
returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

__all__ = ["close_loop"]

_log = logging.getLogger("bastion.runtime")


def close_loop(loop: asyncio.AbstractEventLoop, grace: float) -> list[asyncio.Task[Any]]:
    """Cancel leftover tasks, shut down async generators and the executor, close ``loop``.

    Each step waits at most ``grace`` seconds; the loop is closed in any case. Returns
    the tasks that ignored their cancellation and were abandoned, sorted by name.
    """
    try:
        abandoned = _cancel_leftover_tasks(loop, grace)
        _bounded(loop, loop.shutdown_asyncgens(), grace, "async generators to close")
        _bounded(loop, loop.shutdown_default_executor(), grace, "the default executor")
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return abandoned


def _cancel_leftover_tasks(
    loop: asyncio.AbstractEventLoop, grace: float
) -> list[asyncio.Task[Any]]:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not tasks:
        return []
    for task in tasks:
        task.cancel()
    done, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=grace))
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception in a task left when bastion.run() ended",
                    "exception": task.exception(),
                    "task": task,
                }
            )
    abandoned = sorted(pending, key=lambda task: task.get_name())
    if abandoned:
        for task in abandoned:
            task._log_destroy_pending = False  # type: ignore[attr-defined]  # logged below
        _log.error(
            "abandoning %d task(s) that ignored cancellation for %ss: %s",
            len(abandoned),
            grace,
            ", ".join(task.get_name() for task in abandoned),
        )
    return abandoned


def _bounded(
    loop: asyncio.AbstractEventLoop, step: Awaitable[None], grace: float, what: str
) -> None:
    try:
        loop.run_until_complete(asyncio.wait_for(step, grace))
    except TimeoutError:
        _log.error("gave up waiting for %s after %ss", what, grace)
