"""Human-readable dumps of what a stuck loop is waiting for.

Uses public introspection only: ``asyncio.all_tasks``, ``Task.get_coro`` and the
``cr_await``/``cr_frame`` attributes of coroutine objects. Anything else (a runtime's
actors and pending calls) is added by *introspectors* registered on the loop.
"""

from __future__ import annotations

import asyncio
import os
import reprlib
from collections.abc import Callable
from typing import Any

__all__ = ["Introspector", "add_introspector", "describe_loop", "describe_task"]

Introspector = Callable[[], str]
"""Returns a section of the dump (e.g. a runtime's actors); must not raise."""

#: Frames of the test runner itself, left out of dumps.
_PLUMBING = ("testing/_plugin.py", "testing/_run.py")
_introspectors: dict[int, list[Introspector]] = {}
_short = reprlib.Repr()
_short.maxstring = 80
_short.maxother = 80


def add_introspector(loop: asyncio.AbstractEventLoop, fn: Introspector) -> Callable[[], None]:
    """Add ``fn``'s text to the dumps of ``loop``; returns a function that removes it."""
    entries = _introspectors.setdefault(id(loop), [])
    entries.append(fn)

    def remove() -> None:
        if fn in entries:
            entries.remove(fn)
        if not entries:
            _introspectors.pop(id(loop), None)

    return remove


def _short_path(path: str) -> str:
    here = os.getcwd() + os.sep
    if path.startswith(here):
        return path[len(here) :]
    parts = path.split(os.sep)
    return os.sep.join(parts[-2:]) if len(parts) > 2 else path


def _where(obj: Any) -> tuple[list[str], Any]:
    """Frames of an await chain, innermost last, and the object at its bottom."""
    lines: list[str] = []
    while obj is not None:
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None)
        if frame is None:
            break
        code = frame.f_code
        lines.append(f"{_short_path(code.co_filename)}:{frame.f_lineno} in {code.co_name}")
        nxt = getattr(obj, "cr_await", None)
        if nxt is None:
            nxt = getattr(obj, "gi_yieldfrom", None)
        if nxt is None:
            return lines, None
        obj = nxt
    return lines, obj


def describe_task(task: asyncio.Task[Any]) -> str:
    """One task: its name, where it is suspended and what it awaits."""
    lines, bottom = _where(task.get_coro())
    head = f"task {task.get_name()!r}"
    if task.done():
        return f"{head}: done"
    out = [head + ":"]
    shown = [line for line in lines if not any(m in line for m in _PLUMBING)]
    out += [f"    at {line}" for line in shown[-6:]]
    if bottom is not None:
        what = "a future" if type(bottom).__name__ == "FutureIter" else _short.repr(bottom)
        out.append(f"    awaiting {what}")
    return "\n".join(out)


def describe_loop(
    loop: asyncio.AbstractEventLoop, *, exclude: asyncio.Task[Any] | None = None
) -> str:
    """Every pending task of ``loop`` plus the introspectors' sections."""
    tasks = [t for t in asyncio.all_tasks(loop) if t is not exclude and not t.done()]
    parts = [f"loop time {loop.time():.6f}; {len(tasks)} pending task(s)"]
    parts += [describe_task(t) for t in sorted(tasks, key=lambda t: t.get_name())]
    for fn in list(_introspectors.get(id(loop), ())):
        try:
            parts.append(fn())
        except Exception as exc:  # noqa: BLE001 -- a dump must not fail; the failure is shown in it
            parts.append(f"(introspector {fn!r} failed: {exc!r})")
    return "\n".join(parts)
