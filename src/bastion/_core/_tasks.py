"""The task supervisor: tracked fire-and-forget tasks, tasks with deadlines, and
blocking work in a bounded thread pool. Everything it starts is cancelled (or, for
threads, abandoned and counted) on shutdown; failures are logged and emitted."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from bastion._core import _event_names, _events
from bastion._core._errors import CallTimeout, RuntimeClosed
from bastion._core._ref import DEFAULT, UseDefault, check_timeout
from bastion._core._sealed import NoPublicConstructor
from bastion._core._stats import TaskSupervisorStatistics

if TYPE_CHECKING:
    from bastion._core._runtime import Runtime

__all__ = ["TaskSupervisor"]

T = TypeVar("T")
_log = logging.getLogger("bastion.tasks")


class TaskSupervisor(metaclass=NoPublicConstructor):
    """Supervised tasks of one runtime (``runtime.tasks``)."""

    _obtained_from = "each runtime has one: rt.tasks"

    def __init__(self, runtime: Runtime, max_threads: int) -> None:
        if max_threads < 1:
            raise ValueError(f"max_threads must be >= 1, got {max_threads!r}")
        self._runtime = runtime
        self._tasks: set[asyncio.Task[Any]] = set()
        self._awaited: set[asyncio.Future[Any]] = set()  # results go to a caller, not the log
        self._max_threads = max_threads
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self._started = self._succeeded = self._failed = 0
        self._cancelled = self._timed_out = 0
        self._blocking = self._abandoned = 0

    def start(
        self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None
    ) -> asyncio.Task[Any]:
        """Run ``fn(*args)`` as a tracked task. A failure is logged and emitted."""
        if self._closed:
            raise RuntimeClosed("the task supervisor is shut down")
        coro = fn(*args)
        if not asyncio.iscoroutine(coro):
            raise TypeError(f"{fn!r} did not return a coroutine")
        task = self._runtime.loop.create_task(coro, name=name)
        self._started += 1
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def run(
        self,
        fn: Callable[..., Awaitable[T]],
        *args: Any,
        timeout: float | UseDefault = DEFAULT,
        name: str | None = None,
    ) -> T:
        """Run ``fn(*args)`` as a tracked task and return its result.

        Raises :class:`CallTimeout` (after cancelling the task) at the deadline; the
        task's own exception propagates unchanged.
        """
        timeout = self._timeout(timeout)
        task = self.start(fn, *args, name=name)
        self._awaited.add(task)
        try:
            return await self._await(task, timeout, f"task {task.get_name()!r}", task.cancel)
        except asyncio.CancelledError:
            task.cancel()
            raise

    async def run_blocking(
        self, fn: Callable[..., T], *args: Any, timeout: float | UseDefault = DEFAULT
    ) -> T:
        """Run blocking ``fn(*args)`` in the bounded thread pool, in a copy of this context.

        Raises :class:`CallTimeout` at the deadline; the thread cannot be interrupted, so
        it is counted as abandoned and its result dropped.
        """
        timeout = self._timeout(timeout)
        if self._closed:
            raise RuntimeClosed("the task supervisor is shut down")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_threads, "bastion-blocking")
        context = contextvars.copy_context()
        self._blocking += 1
        future = self._runtime.loop.run_in_executor(self._executor, context.run, fn, *args)
        try:
            return await self._await(future, timeout, f"blocking {fn!r}", self._abandon)
        finally:
            self._blocking -= 1

    def _abandon(self) -> None:
        self._abandoned += 1

    async def _await(
        self,
        future: asyncio.Future[T],
        timeout: float,
        what: str,
        on_timeout: Callable[[], object],
    ) -> T:
        done, _ = await asyncio.wait((future,), timeout=timeout)
        if not done:
            self._timed_out += 1
            on_timeout()
            raise CallTimeout(f"{what} did not finish within {timeout}s")
        return future.result()

    def _timeout(self, timeout: float | UseDefault) -> float:
        return self._runtime.call_timeout if timeout is DEFAULT else check_timeout(timeout)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._awaited.discard(task)
            self._cancelled += 1
            return
        exc = task.exception()
        if exc is None:
            self._awaited.discard(task)
            self._succeeded += 1
            return
        self._failed += 1
        if task in self._awaited:
            self._awaited.discard(task)
            return
        name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
        _log.error("supervised task %s failed", name, exc_info=exc)
        _events.emit(
            _event_names.TASK_EXCEPTION,
            {"count": 1},
            {"task": name, "error": exc},
        )

    async def shutdown(self, timeout: float) -> None:
        """Cancel every task and wait up to ``timeout`` for them; stop the thread pool."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def statistics(self) -> TaskSupervisorStatistics:
        """A snapshot of tracked tasks and blocking work."""
        return TaskSupervisorStatistics(
            running=len(self._tasks),
            started=self._started,
            succeeded=self._succeeded,
            failed=self._failed,
            cancelled=self._cancelled,
            timed_out=self._timed_out,
            blocking_running=self._blocking,
            blocking_capacity=self._max_threads,
            blocking_abandoned=self._abandoned,
        )
