"""The Bastion pytest plugin (entry point ``pytest11``).

* Runs the ``async def`` tests it owns on a fresh :class:`~bastion.testing.VirtualTimeLoop`:
  virtual time by default, the real clock with ``BASTION_REAL_TIME=1``. Which tests it
  owns beside pytest-asyncio / anyio / pytest-trio: see :mod:`._ownership`
  (``bastion_mode`` ini option).
* A deadlock fails the test with a dump; so does the per-test real-time cap
  (``BASTION_TEST_TIMEOUT``, default 60 s, or ``@pytest.mark.bastion(limit=...)``).
* Fixtures ``runtime`` (alias ``rt``), ``clock``, ``probe`` and ``make_probe``, and the
  test's own async fixtures, are made inside the test's loop.
* At teardown, actors, supervised tasks, timers, monitors, asyncio tasks and threads
  left behind fail the test with a list (``@pytest.mark.bastion(leak_check=False)``
  turns it off for one test).
* The loop is closed within a bound: a task that ignores its cancellation fails the
  test with a :class:`LeakError` naming it (whatever ``leak_check`` says) instead of
  hanging the session.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import pytest

from bastion.testing import _ownership
from bastion.testing._async_fixtures import (
    async_fixture_problems,
    deferred_stand_in,
    is_async_fixture,
    sync_fixture_on_deferred,
)
from bastion.testing._clock import VirtualClock
from bastion.testing._errors import DeadlockError, LeakError, TestTimeLimitExceeded
from bastion.testing._leaks import thread_leaks
from bastion.testing._run import (
    guarded,
    new_loop,
    real_time_limit,
    run_to_completion,
    use_real_time,
)
from bastion.testing._session import Deferred, SessionOptions, TestSession

__all__: list[str] = []

_MARKER = (
    "bastion(real_time=None, limit=None, leak_check=True, io_grace=0.05, runtime=None): "
    "pin this async test to the real (True) or virtual (False) clock, set its real-time "
    "cap in seconds, turn the leak check off, set the real seconds to wait for sockets "
    "before time jumps, or pass open_runtime(**runtime) options to the runtime fixture"
)
_OPTION_NAMES = {"real_time", "limit", "leak_check", "io_grace", "runtime"}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``bastion_mode`` ini option and ``--bastion-mode``."""
    _ownership.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``bastion`` marker; a bad ``bastion_mode`` fails the run at once."""
    config.addinivalue_line("markers", _MARKER)
    _ownership.resolve_mode(config)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which async tests Bastion runs, and why."""
    mode = _ownership.resolve_mode(config)
    if mode.takes_all:
        scope = "every async test no other plugin claims"
    else:
        scope = "async tests with @pytest.mark.bastion or its fixtures"
    return f"bastion: mode={mode.name} ({mode.reason}): runs {scope}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, Any, Any]:
    """Keep the tests Bastion owns out of pytest-asyncio's auto mode (outermost wrapper)."""
    result = yield
    if not inspect.iscoroutinefunction(obj):
        return result
    return _ownership.reclaim_from_pytest_asyncio(collector, obj, result)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail early and clearly when a test needs Bastion but another plugin runs it."""
    problem = _ownership.conflict(item)
    if problem is None and isinstance(item, pytest.Function) and _ownership.owns(item):
        problems = async_fixture_problems(item)
        problem = f"{item.nodeid}: " + "; ".join(problems) if problems else None
    if problem is not None:
        pytest.fail(problem, pytrace=False)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: Any, request: pytest.FixtureRequest
) -> Generator[None, Any, Any]:
    """Make async fixtures of Bastion's tests on the test's loop (outermost wrapper).

    The fixture's function is swapped, for this setup only, for a sync stand-in that
    returns a :class:`Deferred`, so no other plugin wraps it for its own loop.
    """
    item = request.node
    if fixturedef.scope != "function" or not _ownership.owns(item):
        return (yield)
    func = fixturedef.func
    if not is_async_fixture(func):
        if getattr(func, "__module__", None) != __name__:
            problem = sync_fixture_on_deferred(fixturedef, request)
            if problem is not None:
                pytest.fail(f"{item.nodeid}: {problem}", pytrace=False)
        return (yield)
    fixturedef.func = deferred_stand_in(fixturedef, request)
    try:
        return (yield)
    finally:
        fixturedef.func = func


def _options(item: pytest.Function) -> SessionOptions:
    kwargs: dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers("bastion"))):
        kwargs.update(mark.kwargs)
    unknown = set(kwargs) - _OPTION_NAMES
    if unknown:
        raise pytest.UsageError(f"{item.nodeid}: unknown bastion marker options {sorted(unknown)}")
    real = kwargs.get("real_time")
    return SessionOptions(
        virtual=not (use_real_time() if real is None else bool(real)),
        limit=real_time_limit(kwargs.get("limit")),
        leak_check=bool(kwargs.get("leak_check", True)),
        io_grace=float(kwargs.get("io_grace", 0.05)),
        runtime=dict(kwargs.get("runtime") or {}),
    )


async def _run_test(
    func: Callable[..., Coroutine[Any, Any, object]],
    funcargs: dict[str, Any],
    argnames: tuple[str, ...],
    options: SessionOptions,
) -> None:
    __tracebackhide__ = True
    session = TestSession(options)
    loop = session.loop
    timers = getattr(loop, "timers", None)
    if timers is not None:
        timers.enabled = options.leak_check

    async def body() -> list[str]:
        try:
            for value in funcargs.values():  # every async fixture, autouse ones included
                await session.resolve(value)
            await func(**{name: await session.resolve(funcargs[name]) for name in argnames})
        finally:
            await session.close_fixtures()
        return session.leaks() if options.leak_check else []

    try:
        leaks = await guarded(body(), limit=options.limit)
    finally:
        left = await guarded(session.close(), limit=options.limit)
    if options.leak_check and (leaks or left):
        raise LeakError("the test left things behind:\n" + "\n".join(leaks + left))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run the async tests Bastion owns to completion on a new (virtual-time) event loop."""
    __tracebackhide__ = True
    func = pyfuncitem.obj
    names = tuple(pyfuncitem._fixtureinfo.argnames)
    if not inspect.iscoroutinefunction(func):
        deferred = [n for n in names if isinstance(pyfuncitem.funcargs.get(n), Deferred)]
        if deferred:
            raise pytest.UsageError(f"fixtures {deferred} need an `async def` test")
        return None
    if not _ownership.owns(pyfuncitem):
        return None
    options = _options(pyfuncitem)
    before = set(threading.enumerate())
    verdict = ""
    try:
        run_to_completion(
            new_loop(virtual=options.virtual, io_grace=options.io_grace),
            _run_test(func, dict(pyfuncitem.funcargs), names, options),
        )
        if options.leak_check:
            threads = thread_leaks(before)
            if threads:
                raise LeakError("the test left threads behind:\n" + "\n".join(threads))
    except (DeadlockError, TestTimeLimitExceeded, LeakError) as exc:
        verdict = "\n".join([f"{type(exc).__name__}: {exc}", *getattr(exc, "__notes__", ())])
    if verdict:  # the toolkit's own verdicts: the message is the whole story
        pytest.fail(verdict, pytrace=False)
    return True


async def _runtime(session: TestSession) -> Any:
    return await session.get_runtime()


async def _clock(session: TestSession) -> VirtualClock:
    return VirtualClock(session.loop)


async def _probe(session: TestSession) -> Any:
    return await session.new_probe("probe")


async def _make_probe(session: TestSession) -> Any:
    return session.new_probe


@pytest.fixture
def runtime() -> Any:
    """A ``bastion.Runtime`` opened on the test's loop and closed after it (async tests)."""
    return Deferred("runtime", _runtime)


@pytest.fixture
def rt(runtime: Any) -> Any:
    """Alias of the ``runtime`` fixture (the same runtime)."""
    return runtime


@pytest.fixture
def clock() -> Any:
    """The test loop's :class:`~bastion.testing.VirtualClock` (async tests)."""
    return Deferred("clock", _clock)


@pytest.fixture
def probe() -> Any:
    """A :class:`~bastion.testing.Probe` in the test's runtime (async tests)."""
    return Deferred("probe", _probe)


@pytest.fixture
def make_probe() -> Any:
    """``await make_probe(name=None)`` spawns another probe in the test's runtime."""
    return Deferred("make_probe", _make_probe)
