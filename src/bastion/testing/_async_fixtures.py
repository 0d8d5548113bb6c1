"""``async def`` and async-generator fixtures of the tests Bastion runs, on the test's loop.

pytest sets fixtures up before the test's event loop exists, so for a test Bastion runs,
an async fixture's function is swapped (for that one setup) for a stand-in returning a
:class:`~bastion.testing._session.Deferred`: the plugin awaits it inside the test's loop
(virtual time included) before the test body, and tears async generators down after
it, before the leak check and before the runtime closes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bastion.testing._session import Deferred, TestSession

__all__ = ["async_fixture_problems", "deferred_stand_in", "is_async_fixture"]


def is_async_fixture(func: object) -> bool:
    """Whether ``func`` (a fixture function) is ``async def`` or an async generator."""
    return inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)


def _bind(func: Any, instance: object | None) -> Any:
    """Bind a fixture defined in a test class to the test's own instance (as pytest does)."""
    owner = getattr(func, "__self__", None)
    if instance is not None and owner is not None and isinstance(instance, type(owner)):
        return func.__func__.__get__(instance)
    return func


def deferred_stand_in(fixturedef: Any, request: pytest.FixtureRequest) -> Callable[..., Deferred]:
    """A sync function pytest calls instead of the async fixture: it returns a Deferred."""
    func = _bind(fixturedef.func, request.instance)
    key = f"fixture {fixturedef.argname} #{id(fixturedef)}"

    def stand_in(**kwargs: Any) -> Deferred:
        return Deferred(key, functools.partial(_make, func, kwargs))

    return stand_in


async def _make(func: Any, kwargs: dict[str, Any], session: TestSession) -> Any:
    resolved = {name: await session.resolve(value) for name, value in kwargs.items()}
    if inspect.isasyncgenfunction(func):
        return await session.fixtures.enter_async_context(asynccontextmanager(func)(**resolved))
    return await func(**resolved)


def async_fixture_problems(item: pytest.Function) -> list[str]:
    """Async fixtures of ``item`` Bastion cannot make on the test's loop (wider scopes)."""
    problems = []
    for name in item.fixturenames:
        defs = item._fixtureinfo.name2fixturedefs.get(name)
        if not defs:
            continue
        fixturedef = defs[-1]
        if is_async_fixture(fixturedef.func) and fixturedef.scope != "function":
            problems.append(
                f"async fixture {name!r} has scope {fixturedef.scope!r}: Bastion runs each "
                "test on its own event loop, so its async fixtures must be function-scoped "
                "(make it a sync fixture, or function-scoped)"
            )
    return problems


def sync_fixture_on_deferred(fixturedef: Any, request: pytest.FixtureRequest) -> str | None:
    """The error for a sync fixture fed an async one (it would get a placeholder)."""
    for argname in fixturedef.argnames:
        if argname == "request":
            continue
        if isinstance(request.getfixturevalue(argname), Deferred):
            return (
                f"sync fixture {fixturedef.argname!r} depends on {argname!r}, which Bastion "
                "makes inside the test's event loop (after sync fixtures are set up): make "
                f"{fixturedef.argname!r} an `async def` fixture"
            )
    return None
