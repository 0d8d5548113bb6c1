"""BAS4xx ``unbounded-timeout``: waits that can last forever."""

from __future__ import annotations

import ast
from typing import ClassVar

from bastion.checks._context import FileContext
from bastion.checks._model import Rule
from bastion.checks._util import has_keyword, is_unbounded, keyword, method_name, raises_span

__all__ = ["BlockingWaitWithoutTimeout", "InfiniteTimeout"]

_POSITIONAL_DEADLINE = {
    "asyncio.wait_for": 1,
    "asyncio.timeout": 0,
    "asyncio.timeout_at": 0,
    "anyio.fail_after": 0,
    "anyio.move_on_after": 0,
    "trio.fail_after": 0,
    "trio.move_on_after": 0,
}
_TIMEOUT_KEYWORDS = ("timeout", "timeout_s")
_BLOCKING_FLAG = {"get": "block", "acquire": "blocking"}
_NON_BLOCKING = frozenset(
    {"contextvars.ContextVar", "dict", "weakref.ref", "asyncio.Task", "asyncio.Future",
     "asyncio.create_task", "asyncio.ensure_future"}
)  # fmt: skip
_QUEUES = frozenset(
    {"queue.Queue", "queue.LifoQueue", "queue.PriorityQueue", "queue.SimpleQueue",
     "multiprocessing.Queue", "multiprocessing.JoinableQueue", "multiprocessing.SimpleQueue"}
)  # fmt: skip
_STATUS_METHODS = frozenset({"done", "cancelled", "exception"})


class InfiniteTimeout(Rule):
    """An explicit "no deadline": ``timeout=None`` or ``inf``."""

    code = "BAS401"
    name = "unbounded-timeout"
    summary = "explicit timeout=None / inf: a call that may wait forever"
    explanation = """\
Every call and wait must have a finite deadline: one call without a deadline behind a
blocked server hangs its caller, and the caller's callers, forever. Flagged: any call
passing `timeout=None`,
`timeout=math.inf` or `timeout=float("inf")` (also `timeout_s=`), and
`asyncio.wait_for(x, None)`, `asyncio.timeout(None)`, `anyio/trio.fail_after(inf)`.
Pass a finite number; `ref.call(msg)` without a timeout is fine, it uses the
runtime's finite `call_timeout`. A parameter *default* of `None` in a `def` is not a
call and is not flagged, and neither is a call inside `with pytest.raises(...)` (a test
that the API rejects the unbounded value).

    # bad
    await ref.call(Get(), timeout=None)
    # good
    await ref.call(Get(), timeout=5.0)
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Call, ast.With, ast.AsyncWith)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.expect_raise: list[tuple[int, int]] = []

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.With | ast.AsyncWith):
            if (span := raises_span(node, self.ctx)) is not None:
                self.expect_raise.append(span)
            return
        assert isinstance(node, ast.Call)
        if any(start <= node.lineno <= end for start, end in self.expect_raise):
            return
        ctx = self.ctx
        for name in _TIMEOUT_KEYWORDS:
            value = keyword(node, name)
            if value is not None and is_unbounded(value, ctx):
                self.report(
                    node, f"`{name}={ast.unparse(value)}` may wait forever: pass a finite timeout"
                )
                return
        if not node.args or not isinstance(node.func, ast.Name | ast.Attribute):
            return
        position = _POSITIONAL_DEADLINE.get(ctx.resolve(node.func) or "")
        if position is not None and len(node.args) > position:
            value = node.args[position]
            if is_unbounded(value, ctx):
                self.report(
                    node,
                    f"`{ast.unparse(node.func)}(..., {ast.unparse(value)})` "
                    "has no deadline: pass a finite timeout",
                )


class BlockingWaitWithoutTimeout(Rule):
    """A blocking wait without a timeout in synchronous code."""

    code = "BAS402"
    name = "unbounded-timeout"
    summary = "blocking wait without a timeout in synchronous code"
    explanation = """\
In synchronous code (outside `async def`), these block the thread until something
else happens, possibly never: `future.result()`, `queue.get()` / `queue.get(True)`,
`event.wait()`, `lock.acquire()`, `thread.join()`, `process.join()`. Give each a
`timeout=`. Look-alikes are not flagged: `d.get(key)` (a dict lookup has an argument),
`q.get(block=False)`, `lock.acquire(blocking=False)`, `",".join(parts)`, and
`var.get()` on a ContextVar (`.get()` is only flagged on a known `queue.Queue` /
`multiprocessing.Queue` instance or a receiver named like a queue: `q`, `*_q`,
`*queue*`), and `.result()` on an object known to be an asyncio Task/Future (it never blocks), and
`task.result()` after `task.done()`/`cancelled()`/`exception()` was
checked on the same object in the same function (a done-callback). Inside `async def` the enclosing
`asyncio.timeout` scope bounds the `await`, so async code is not flagged here.

    # bad
    value = future.result()
    # good
    value = future.result(timeout=5.0)
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Call,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        # (id of the function scope, receiver) -> the scope, kept alive so ids stay unique
        self.checked: dict[tuple[int, str], object] = {}

    def visit(self, node: ast.AST) -> None:
        assert isinstance(node, ast.Call)
        attr = method_name(node)
        if attr is None or self.ctx.in_async:
            return
        receiver = node.func.value  # type: ignore[attr-defined]
        if attr in _STATUS_METHODS:
            self.checked[(id(self.ctx.function), ast.dump(receiver))] = self.ctx.function
            return
        if attr not in {"result", "get", "wait", "acquire", "join"} or has_keyword(node, "timeout"):
            return
        if isinstance(receiver, ast.Constant) or self.ctx.instance_of(receiver) in _NON_BLOCKING:
            return
        if attr == "get" and not self._is_queue(receiver):
            return
        if attr in _BLOCKING_FLAG:
            if not self._blocks(node, _BLOCKING_FLAG[attr]):
                return
        elif node.args:
            return
        if attr == "result" and (id(self.ctx.function), ast.dump(receiver)) in self.checked:
            return
        self.report(node, f"`.{attr}()` without a timeout can block forever: pass `timeout=`")

    def _is_queue(self, receiver: ast.expr) -> bool:
        """A known queue instance, or an unknown one whose name says it is a queue."""
        known = self.ctx.instance_of(receiver)
        if known is not None:
            return known in _QUEUES
        name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
        name = name.lower().strip("_")
        return "queue" in name or name == "q" or name.endswith("_q")

    @staticmethod
    def _blocks(node: ast.Call, flag: str) -> bool:
        """``get()``/``get(True)``/``get(block=True)`` block; anything else is a lookup."""
        if len(node.args) > 1:
            return False
        if node.args:
            first = node.args[0]
            return isinstance(first, ast.Constant) and first.value is True
        value = keyword(node, flag)
        if value is None:
            return not node.keywords
        return isinstance(value, ast.Constant) and value.value is True and len(node.keywords) == 1
