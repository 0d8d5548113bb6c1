"""BAS2xx ``unsupervised-spawn``: tasks, threads and processes nobody supervises."""

from __future__ import annotations

import ast
from typing import ClassVar

from bastion.checks._context import FileContext
from bastion.checks._model import Rule
from bastion.checks._util import method_name

__all__ = ["UnsupervisedSpawn"]

SPAWN_FUNCTIONS: dict[str, str] = {
    "asyncio.create_task": "an unsupervised asyncio task",
    "asyncio.ensure_future": "an unsupervised asyncio task",
    "asyncio.to_thread": "an ad-hoc worker thread",
    "threading.Thread": "an unsupervised thread",
    "threading.Timer": "an unsupervised timer thread",
    "_thread.start_new_thread": "an unsupervised thread",
    "_thread.start_new": "an unsupervised thread",
    "multiprocessing.Process": "an unsupervised process",
    "multiprocessing.Pool": "an ad-hoc process pool",
    "multiprocessing.pool.Pool": "an ad-hoc process pool",
    "multiprocessing.pool.ThreadPool": "an ad-hoc thread pool",
    "multiprocessing.context.Process": "an unsupervised process",
    "concurrent.futures.ThreadPoolExecutor": "an ad-hoc executor",
    "concurrent.futures.ProcessPoolExecutor": "an ad-hoc executor",
    "concurrent.futures.thread.ThreadPoolExecutor": "an ad-hoc executor",
    "concurrent.futures.process.ProcessPoolExecutor": "an ad-hoc executor",
    "os.fork": "a forked process",
    "os.forkpty": "a forked process",
}
_SPAWN_METHODS = {
    "create_task": "an unsupervised task",
    "run_in_executor": "work on an ad-hoc executor",
}
_SUBCLASSABLE = frozenset({"threading.Thread", "threading.Timer", "multiprocessing.Process"})
_TASK_GROUPS = frozenset({"asyncio.TaskGroup", "anyio.create_task_group", "trio.open_nursery"})
_ADVICE = (
    "start it under a supervisor or the runtime's task supervisor "
    "(`rt.tasks.start(...)`, `rt.tasks.run(...)`, `rt.tasks.run_blocking(...)`)"
)


class UnsupervisedSpawn(Rule):
    """Concurrency started outside a supervisor or the task supervisor."""

    code = "BAS201"
    name = "unsupervised-spawn"
    summary = "task, thread, process or executor started outside a supervisor"
    explanation = """\
A task, thread or process that no supervisor owns is invisible to restarts, shutdown
ordering and statistics: when it crashes nobody knows, and when the runtime stops it
keeps running (or is garbage-collected mid-flight). Start concurrent work through the
runtime instead: `rt.tasks.start(coro)` (supervised fire-and-forget), `await
rt.tasks.run(coro)` and `await rt.tasks.run_blocking(fn, ...)` (blocking work in the
supervised thread pool), or a supervisor's child spec.

Flagged, however imported: `asyncio.create_task`, `asyncio.ensure_future`,
`<loop>.create_task` (but not `create_task` on a name bound by `async with
asyncio.TaskGroup() as tg`), `loop.run_in_executor`, `asyncio.to_thread`,
`threading.Thread`/`Timer` (and subclasses), `multiprocessing.Process`/`Pool`,
`concurrent.futures` executors and `os.fork`. The kernel's supervisors are exempted
through the allowlist, with a reason.

    # bad
    asyncio.create_task(poll())
    # good
    rt.tasks.start(poll())
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Call, ast.ClassDef, ast.AsyncWith)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.task_groups: set[str] = set()

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.AsyncWith):
            self._note_task_groups(node)
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                qualname = self.ctx.resolve(base) or ""
                if qualname in _SUBCLASSABLE:
                    what = SPAWN_FUNCTIONS[qualname]
                    self.report(node, f"subclass of `{qualname}` starts {what}: {_ADVICE}")
        else:
            assert isinstance(node, ast.Call)
            self._call(node)

    def _call(self, node: ast.Call) -> None:
        qualname = self.ctx.resolve(node.func)
        what = SPAWN_FUNCTIONS.get(qualname or "")
        if what is not None:
            self.report(node, f"`{qualname}` starts {what}: {_ADVICE}")
            return
        attr = method_name(node)
        if attr in _SPAWN_METHODS and qualname not in SPAWN_FUNCTIONS:
            receiver = node.func.value  # type: ignore[attr-defined]
            if isinstance(receiver, ast.Name) and receiver.id in self.task_groups:
                return
            self.report(node, f"`.{attr}(...)` starts {_SPAWN_METHODS[attr]}: {_ADVICE}")

    def _note_task_groups(self, node: ast.AsyncWith) -> None:
        for item in node.items:
            expr = item.context_expr
            if (
                isinstance(expr, ast.Call)
                and isinstance(item.optional_vars, ast.Name)
                and self.ctx.resolve(expr.func) in _TASK_GROUPS
            ):
                self.task_groups.add(item.optional_vars.id)
