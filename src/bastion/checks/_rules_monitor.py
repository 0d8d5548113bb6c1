"""BAS5xx ``monitor-leak``: monitors nobody removes."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import ClassVar

from bastion.checks._context import FileContext
from bastion.checks._model import Rule

__all__ = ["DiscardedMonitor", "MonitorWithoutDemonitor"]


def _monitor_call(node: ast.AST, ctx: FileContext, attr: str = "monitor") -> bool:
    """``self.monitor(...)``, or ``x.monitor(...)`` in a file that imports bastion."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr != attr:
        return False
    is_self = isinstance(func.value, ast.Name) and func.value.id == "self"
    return is_self or ctx.imports_bastion


class DiscardedMonitor(Rule):
    """``self.monitor(ref)`` as a bare statement: the handle is lost."""

    code = "BAS501"
    name = "monitor-leak"
    summary = "monitor handle discarded: it can never be demonitored"
    explanation = """\
`self.monitor(ref)` returns a `MonitorRef`; the only way to stop monitoring is
`self.demonitor(mref)`. Calling `monitor` as a bare statement throws the handle away,
so the monitor lives as long as the target, and a `Down` notice may arrive long after
the actor stopped caring. Keep the handle (`self._mref = self.monitor(ref)`) and
demonitor it, or use the context-manager form (`with self.monitor(ref) as mref: ...`).
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Expr,)

    def visit(self, node: ast.AST) -> None:
        assert isinstance(node, ast.Expr)
        value = node.value.value if isinstance(node.value, ast.Await) else node.value
        if _monitor_call(value, self.ctx):
            self.report(
                node,
                "monitor handle discarded: keep the MonitorRef and demonitor it, "
                "or use `with self.monitor(ref) as mref:`",
            )


@dataclass(slots=True)
class _ClassFrame:
    node: ast.ClassDef
    symbol: str
    monitors: list[tuple[ast.AST, str]] = field(default_factory=list)
    demonitors: bool = False


class MonitorWithoutDemonitor(Rule):
    """A class that monitors but never demonitors."""

    code = "BAS502"
    name = "monitor-leak"
    summary = "class calls monitor() but never demonitor()"
    explanation = """\
A class whose methods call `self.monitor(...)` (outside a `with` block) and never call
`demonitor(...)` leaks one monitor per call: long-lived actors accumulate them.
Demonitor when the target stops mattering, or use the context-manager form, which
demonitors on exit and is not flagged.
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (
        ast.ClassDef, ast.Call, ast.With, ast.AsyncWith, ast.Expr,
    )  # fmt: skip
    leave_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.ClassDef,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.frames: list[_ClassFrame] = []
        # id -> node: holding the node keeps its id unique while blocks are freed
        self.managed: dict[int, ast.AST] = {}

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.ClassDef):
            self.frames.append(_ClassFrame(node, f"{self.ctx.symbol}.{node.name}"))
        elif isinstance(node, ast.With | ast.AsyncWith):
            self.managed.update((id(item.context_expr), item.context_expr) for item in node.items)
        elif isinstance(node, ast.Expr):  # a discarded handle is BAS501's finding
            value = node.value.value if isinstance(node.value, ast.Await) else node.value
            self.managed[id(value)] = value
        elif self.frames:
            frame = self.frames[-1]
            if _monitor_call(node, self.ctx, "demonitor"):
                frame.demonitors = True
            elif _monitor_call(node, self.ctx) and id(node) not in self.managed:
                frame.monitors.append((node, self.ctx.symbol))

    def leave(self, node: ast.AST) -> None:
        frame = self.frames.pop()
        if frame.monitors and not frame.demonitors:
            first, symbol = frame.monitors[0]
            self.ctx.report(
                first, self.code, self.name,
                f"class {frame.node.name} calls monitor() {len(frame.monitors)} time(s) and "
                "never demonitor(): demonitor, or use `with self.monitor(ref) as mref:`",
                symbol=symbol,
            )  # fmt: skip
