"""Opening a runtime: :func:`open_runtime` on a running loop, :func:`run` with its own loop."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar, Unpack

from bastion._core._options import RuntimeOptionKeywords, RuntimeOptions
from bastion._core._runtime import Runtime, _current_runtime
from bastion._core._teardown import close_loop

__all__ = ["open_runtime", "run"]

T = TypeVar("T")
_log = logging.getLogger("bastion.runtime")


@asynccontextmanager
async def open_runtime(**options: Unpack[RuntimeOptionKeywords]) -> AsyncIterator[Runtime]:
    """Open a runtime on the running loop; on exit every actor and task is stopped.

    ``options`` are the fields of :class:`RuntimeOptions` (``call_timeout``,
    ``mailbox_capacity``, ``dead_letter_capacity``, ``max_threads``,
    ``shutdown_timeout``, ``metrics``), validated before anything starts.
    ``metrics=False`` turns the runtime's self-measurement off (``rt.metrics`` stays
    readable but the kernel records nothing).
    """
    async with _open(RuntimeOptions.from_keywords(options)) as runtime:
        yield runtime


@asynccontextmanager
async def _open(options: RuntimeOptions) -> AsyncIterator[Runtime]:
    runtime = Runtime._create(options)
    token = _current_runtime.set(runtime)
    try:
        yield runtime
    finally:
        try:
            await runtime.shutdown()
        finally:
            _current_runtime.reset(token)


def run(
    main: Callable[..., Awaitable[T]],
    *args: Any,
    handle_signals: bool = True,
    **runtime_options: Unpack[RuntimeOptionKeywords],
) -> T | None:
    """Run ``await main(*args)`` in a fresh event loop and runtime; return its result.

    Trio's shape: ``main`` gets only ``args`` and reaches the runtime with
    :func:`current_runtime`. ``runtime_options`` go to :func:`open_runtime`.

    On SIGINT or SIGTERM ``main`` is cancelled, the runtime shuts down gracefully
    (supervisors stop their children in order) and ``run`` returns ``None``. Shutdown is
    bounded whatever user code does: an actor that ignores its stop and its kill is
    abandoned after its shutdown timeout plus ``call_timeout``, and tasks still running
    when ``main`` is done get ``call_timeout`` to honour their cancellation, then are
    abandoned too (both logged as errors).
    """
    given: object = main
    if asyncio.iscoroutine(given):
        given.close()
        raise TypeError(
            "bastion.run() takes an async function and its arguments, not a coroutine: "
            "write bastion.run(main, arg), not bastion.run(main(arg))"
        )
    if not callable(given):
        raise TypeError(f"bastion.run() takes an async function, got {given!r}")
    options = RuntimeOptions.from_keywords(runtime_options)  # bad options fail before the loop
    grace = options.call_timeout

    async def _runner() -> T | None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        received: list[int] = []

        def _on_signal(signum: int) -> None:
            received.append(signum)
            task.cancel()

        installed = []
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(signum, _on_signal, signum)
                except (NotImplementedError, RuntimeError, ValueError):
                    continue
                installed.append(signum)
        try:
            async with _open(options):
                return await main(*args)
        except asyncio.CancelledError:
            if not received:
                raise
            task.uncancel()
            _log.info("stopped by signal %s", signal.Signals(received[0]).name)
            return None
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(_runner())
    finally:
        close_loop(loop, grace)
