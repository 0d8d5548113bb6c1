"""Run a coroutine on a fresh :class:`VirtualTimeLoop`, failing fast when it is stuck.

The clock is chosen by one switch: ``BASTION_REAL_TIME=1`` runs on the real clock
(for A/B comparison), anything else on virtual time. ``BASTION_TEST_TIMEOUT`` sets the
real-time cap per run (default 60 s); ``BASTION_TEST_TIMEFACTOR`` multiplies it.

A loop is closed the way ``bastion.run`` closes its own (``_core/_teardown.py``): tasks
left running are cancelled and get :data:`TEARDOWN_GRACE` seconds (virtual time costs
none) to finish; one that swallows its cancellation fails the run with a
:class:`LeakError` naming it, instead of hanging in ``asyncio.Runner.close``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from bastion._core._teardown import close_loop
from bastion.testing._dump import describe_loop, describe_task
from bastion.testing._errors import DeadlockError, LeakError, TestTimeLimitExceeded
from bastion.testing._loop import VirtualTimeLoop

__all__ = [
    "REAL_TIME_ENV",
    "TEARDOWN_GRACE",
    "guarded",
    "new_loop",
    "real_time_limit",
    "run",
    "run_to_completion",
    "use_real_time",
]

_T = TypeVar("_T")

REAL_TIME_ENV = "BASTION_REAL_TIME"
"""Environment variable: ``1`` runs tests on the real clock instead of virtual time."""

_DEFAULT_LIMIT = 60.0

TEARDOWN_GRACE = 5.0
"""Seconds a task left running at the end of a run gets to honour its cancellation."""


def use_real_time() -> bool:
    """Whether ``BASTION_REAL_TIME`` asks for the real clock."""
    return os.environ.get(REAL_TIME_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {raw!r}")
    return value


def real_time_limit(limit: float | None = None) -> float:
    """The per-run real-time cap: ``limit`` or ``BASTION_TEST_TIMEOUT``, times the factor."""
    base = limit if limit is not None else _env_float("BASTION_TEST_TIMEOUT", _DEFAULT_LIMIT)
    if not base > 0:
        raise ValueError(f"the real-time limit must be > 0 seconds, got {base!r}")
    return base * _env_float("BASTION_TEST_TIMEFACTOR", 1.0)


def new_loop(*, virtual: bool | None = None, io_grace: float = 0.05) -> VirtualTimeLoop:
    """A fresh loop; ``virtual=None`` follows ``BASTION_REAL_TIME``.

    ``io_grace``: real seconds to wait for registered sockets before time jumps.
    """
    return VirtualTimeLoop(
        virtual=not use_real_time() if virtual is None else virtual, io_grace=io_grace
    )


async def guarded(awaitable: Awaitable[_T], *, limit: float) -> _T:
    """Await ``awaitable`` in the current task; a deadlock or the cap raises with a dump."""
    __tracebackhide__ = True
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if not isinstance(loop, VirtualTimeLoop) or task is None:
        raise RuntimeError("guarded() needs a running VirtualTimeLoop task")
    failure: list[Exception] = []

    def stuck(kind: str) -> None:
        report = describe_loop(loop)
        if kind == "deadlock":
            text = "deadlock: every task is waiting and nothing can wake any of them"
            failure.append(DeadlockError(f"{text}\n{report}"))
        else:
            text = f"the real-time limit of {limit:g} s was exceeded"
            failure.append(TestTimeLimitExceeded(f"{text}\n{report}"))
        task.cancel(text)

    loop.arm(stuck, real_time_limit=limit)
    try:
        result = await awaitable
    except asyncio.CancelledError:
        if failure:
            raise failure[0] from None
        raise
    finally:
        loop.disarm()
    if failure:  # the awaitable swallowed our cancellation: still a failure
        raise failure[0]
    return result


def run(
    main: Callable[..., Awaitable[_T]],
    *args: Any,
    virtual: bool | None = None,
    limit: float | None = None,
) -> _T:
    """Run ``main(*args)`` on a fresh loop, virtual unless ``BASTION_REAL_TIME=1``.

    Raises :class:`DeadlockError` when nothing can ever wake the loop and
    :class:`TestTimeLimitExceeded` after ``limit`` real seconds, each with a dump::

        async def main() -> float:
            await asyncio.sleep(3600)          # an hour of virtual time, instantly
            return asyncio.get_running_loop().time()

        assert bastion.testing.run(main, virtual=True) == 3600.0
    """
    cap = real_time_limit(limit)

    async def body() -> _T:
        return await guarded(main(*args), limit=cap)

    return run_to_completion(new_loop(virtual=virtual), body())


def run_to_completion(
    loop: asyncio.AbstractEventLoop,
    main: Coroutine[Any, Any, _T],
    *,
    grace: float = TEARDOWN_GRACE,
) -> _T:
    """Run ``main`` on ``loop``, then close the loop within a bound and return the result.

    Tasks still running are cancelled and get ``grace`` seconds; if one ignores its
    cancellation, :class:`LeakError` names it (where it is suspended included). When
    ``main`` itself failed, its exception propagates with that report as a note.
    """
    __tracebackhide__ = True
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(main)
    except BaseException as exc:
        stuck = close_loop(loop, grace)
        if stuck:
            exc.add_note(_ignored_cancellation(stuck, grace))
        raise
    stuck = close_loop(loop, grace)
    if stuck:
        raise LeakError(_ignored_cancellation(stuck, grace))
    return result


def _ignored_cancellation(tasks: list[asyncio.Task[Any]], grace: float) -> str:
    head = (
        f"{len(tasks)} task(s) left running ignored their cancellation for {grace:g} s "
        "and were abandoned (a task must let CancelledError propagate):"
    )
    return "\n".join([head, *(describe_task(task) for task in tasks)])
