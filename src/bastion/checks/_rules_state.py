"""BAS3xx ``process-global-state``: the process-dictionary analog."""

from __future__ import annotations

import ast
from typing import ClassVar

from bastion.checks._context import FileContext
from bastion.checks._model import Rule

__all__ = ["GlobalWrite", "MutatedModuleContainer", "ThreadLocal"]

_CONTAINER_FACTORIES = frozenset(
    {
        "dict", "list", "set", "bytearray",
        "collections.defaultdict", "collections.OrderedDict", "collections.deque",
        "collections.Counter", "collections.ChainMap",
        "weakref.WeakValueDictionary", "weakref.WeakKeyDictionary", "weakref.WeakSet",
    }
)  # fmt: skip
_MUTATORS = frozenset(
    {
        "append", "appendleft", "extend", "extendleft", "insert", "pop", "popleft",
        "popitem", "clear", "update", "add", "discard", "remove", "setdefault",
        "sort", "reverse", "rotate", "__setitem__", "__delitem__",
        "difference_update", "intersection_update", "symmetric_difference_update",
    }
)  # fmt: skip
_ADVICE = "keep state in an actor (or pass it explicitly), not in the process"
_LITERALS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


class ThreadLocal(Rule):
    """``threading.local`` state."""

    code = "BAS301"
    name = "process-global-state"
    summary = "threading.local used as hidden per-thread state"
    explanation = """\
`threading.local()` is hidden state tied to whichever thread happens to run the code:
under asyncio every actor on the loop shares it, and a restart does not reset it. Keep
the state in the actor, or pass it explicitly (a `contextvars.ContextVar` is the right
tool for request-scoped context). Subclasses of `threading.local` are flagged too.
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Call, ast.ClassDef)

    def visit(self, node: ast.AST) -> None:
        targets = node.bases if isinstance(node, ast.ClassDef) else [node.func]  # type: ignore[attr-defined]
        for target in targets:
            if self.ctx.resolve(target) in {"threading.local", "_thread._local"}:
                self.report(node, f"`threading.local` is process-global state: {_ADVICE}")


class GlobalWrite(Rule):
    """A function that rebinds a module global through ``global``."""

    code = "BAS302"
    name = "process-global-state"
    summary = "`global` name written inside a function"
    explanation = """\
A function that assigns a module global (`global counter; counter += 1`) keeps state in
the process instead of in an actor: it survives actor restarts, is shared by every
actor and test, and races under threads. A `global` declaration that is only read is
not flagged.
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Global,)
    leave_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.FunctionDef, ast.AsyncFunctionDef)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.pending: dict[int, list[tuple[ast.Global, str]]] = {}

    def visit(self, node: ast.AST) -> None:
        func = self.ctx.function
        if func is not None and isinstance(node, ast.Global):
            self.pending.setdefault(id(func.node), []).append((node, self.ctx.symbol))

    def leave(self, node: ast.AST) -> None:
        pending = self.pending.pop(id(node), None)
        if not pending:
            return
        written = _stored_names(node.body)  # type: ignore[attr-defined]
        for statement, symbol in pending:
            names = [n for n in statement.names if n in written]
            if names:
                self.ctx.report(
                    statement, self.code, self.name,
                    f"function writes module global {', '.join(names)}: {_ADVICE}",
                    symbol=symbol,
                )  # fmt: skip


def _stored_names(body: list[ast.stmt]) -> set[str]:
    found: set[str] = set()
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


class MutatedModuleContainer(Rule):
    """A module-level mutable container changed from inside functions."""

    code = "BAS303"
    name = "process-global-state"
    summary = "module-level mutable container mutated from a function"
    explanation = """\
A module-level `dict`/`list`/`set`/`deque`/`defaultdict`... that functions mutate
(`_cache[key] = v`, `_seen.add(x)`, `del _reg[k]`) is a process dictionary: state
that outlives the actors using it and is shared by all of them. Reading such a
container is fine (a constant lookup table); mutating it at import time is fine too.
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (
        ast.Assign, ast.AnnAssign, ast.Call, ast.Subscript,
    )  # fmt: skip

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.containers: set[str] = set()
        self.mutations: list[tuple[str, ast.AST, str, str]] = []

    def visit(self, node: ast.AST) -> None:
        ctx = self.ctx
        if isinstance(node, ast.Assign | ast.AnnAssign):
            if ctx.scope.kind == "module" and self._is_container(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                self.containers.update(t.id for t in targets if isinstance(t, ast.Name))
            return
        if ctx.function is None:
            return
        if isinstance(node, ast.Subscript):
            if isinstance(node.ctx, ast.Load) or not isinstance(node.value, ast.Name):
                return
            self._note(node.value.id, node, "item assignment on")
        elif isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in _MUTATORS
                and isinstance(func.value, ast.Name)
            ):
                self._note(func.value.id, node, f"`.{func.attr}()` on")

    def _note(self, name: str, node: ast.AST, how: str) -> None:
        if name != "__all__" and not self.ctx.is_local(name):
            self.mutations.append((name, node, how, self.ctx.symbol))

    def _is_container(self, value: ast.expr | None) -> bool:
        if isinstance(value, _LITERALS):
            return True
        if isinstance(value, ast.Call):
            return self.ctx.resolve(value.func) in _CONTAINER_FACTORIES
        return False

    def finish(self) -> None:
        for name, node, how, symbol in self.mutations:
            if name in self.containers:
                self.ctx.report(
                    node, self.code, self.name,
                    f"{how} module-level container `{name}` from a function: {_ADVICE}",
                    symbol=symbol,
                )  # fmt: skip
