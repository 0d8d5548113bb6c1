"""The Bastion pytest plugin (entry point ``pytest11``).

Runs ``async def`` tests on a fresh event loop each, so no extra plugin is needed.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

__all__: list[str] = []


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run coroutine test functions to completion on a new event loop."""
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}
    with asyncio.Runner() as runner:
        runner.run(func(**kwargs))
    return True
