"""Per-file semantic model: scopes, import aliases and qualified-name resolution.

The engine keeps one :class:`FileContext` per file. It records every binding as the
walk reaches it (imports, aliases such as ``s = lowlevel.send``, definitions and
parameters), so a rule can ask what an expression *means*, however it was imported
or renamed: ``ctx.resolve(node) == "bastion.lowlevel.send"``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from bastion.checks._model import Finding

__all__ = ["FileContext", "Scope"]

_LOCAL = ""
"""Binding value for a local name whose meaning is unknown (a variable, a def)."""


@dataclass(slots=True)
class Scope:
    """A module, class or function body and the names bound in it."""

    kind: str  # "module" | "class" | "function"
    name: str
    node: ast.AST | None
    is_async: bool = False
    bindings: dict[str, str] = field(default_factory=dict)


class FileContext:
    """What the rules know about the file being checked, and where they report."""

    def __init__(
        self,
        path: str,
        module: str,
        *,
        is_test: bool = False,
        is_package: bool = False,
        virtual_time_tests: bool = False,
    ) -> None:
        self.path = path
        self.virtual_time_tests = virtual_time_tests
        self.module = module
        self.is_test = is_test
        self.is_package = is_package
        self.findings: list[Finding] = []
        self.scopes: list[Scope] = [Scope("module", module, None)]
        # id -> node: holding the node keeps its id unique while blocks are freed
        self.alias_values: dict[int, ast.AST] = {}
        self.imports_bastion = False
        self.tree: ast.AST | None = None
        self.instances: dict[str, str] = {}

    # -- where we are -------------------------------------------------------------

    @property
    def scope(self) -> Scope:
        """The innermost scope."""
        return self.scopes[-1]

    @property
    def function(self) -> Scope | None:
        """The innermost function scope, if the walk is inside a function."""
        for scope in reversed(self.scopes):
            if scope.kind == "function":
                return scope
        return None

    @property
    def in_async(self) -> bool:
        """Whether the innermost function is an ``async def``."""
        func = self.function
        return func is not None and func.is_async

    @property
    def symbol(self) -> str:
        """Qualified name of the innermost definition (``pkg.mod.Class.method``)."""
        return ".".join(s.name for s in self.scopes)

    def enclosing_class(self) -> Scope | None:
        """The innermost class scope, if any."""
        for scope in reversed(self.scopes):
            if scope.kind == "class":
                return scope
        return None

    # -- reporting ----------------------------------------------------------------

    def report(
        self, node: ast.AST, code: str, rule: str, message: str, *, symbol: str | None = None
    ) -> None:
        """Record a finding at ``node`` (in ``symbol``, by default the current one)."""
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        end_line = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        self.findings.append(
            Finding(
                self.path,
                line,
                col,
                code,
                rule,
                message,
                self.symbol if symbol is None else symbol,
                end_line,
                None if end_col is None else end_col + 1,
            )
        )

    # -- bindings -----------------------------------------------------------------

    def push(self, kind: str, name: str, node: ast.AST, *, is_async: bool = False) -> None:
        """Enter a class or function body."""
        self.scopes.append(Scope(kind, name, node, is_async))

    def pop(self) -> None:
        """Leave the innermost scope."""
        self.scopes.pop()

    def bind(self, name: str, qualname: str = _LOCAL) -> None:
        """Bind ``name`` in the innermost scope (to ``qualname`` if it is an alias)."""
        self.scope.bindings[name] = qualname

    def bind_import(self, node: ast.Import | ast.ImportFrom) -> None:
        """Record the names an import statement binds."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("bastion"):
                    self.imports_bastion = True
                if alias.asname:
                    self.bind(alias.asname, alias.name)
                else:
                    head = alias.name.partition(".")[0]
                    self.bind(head, head)
            return
        base = self._absolute(node.module, node.level)
        if base.startswith("bastion"):
            self.imports_bastion = True
        for alias in node.names:
            if alias.name != "*":
                self.bind(
                    alias.asname or alias.name, f"{base}.{alias.name}" if base else alias.name
                )

    def resolve_module(self, node: ast.ImportFrom) -> str:
        """The absolute module a ``from ... import`` statement imports from."""
        return self._absolute(node.module, node.level)

    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = self.module.split(".")
        keep = len(parts) - level + (1 if self.is_package else 0)
        base = ".".join(parts[: max(keep, 0)])
        if module:
            return f"{base}.{module}" if base else module
        return base

    def lookup(self, name: str) -> str | None:
        """What ``name`` is bound to here: a qualified name, ``""`` if local, None if unbound."""
        scopes = self.scopes
        innermost = len(scopes) - 1
        for index in range(innermost, -1, -1):
            scope = scopes[index]
            if scope.kind == "class" and index != innermost:
                continue
            found = scope.bindings.get(name)
            if found is not None:
                return found
        return None

    def is_local(self, name: str) -> bool:
        """Whether ``name`` is bound in an enclosing function (not at module level)."""
        scopes = self.scopes
        innermost = len(scopes) - 1
        for index in range(innermost, 0, -1):
            scope = scopes[index]
            if scope.kind == "class" and index != innermost:
                continue
            if name in scope.bindings:
                return scope.kind == "function"
        return False

    def resolve(self, node: ast.AST) -> str | None:
        """The qualified name an expression refers to, or None if it is not a known name.

        Imported names resolve to their origin (``aio.create_task`` →
        ``asyncio.create_task``); unbound names resolve to themselves (builtins);
        local variables and local definitions resolve to None.
        """
        if isinstance(node, ast.Name):
            found = self.lookup(node.id)
            if found is None:
                return node.id
            return found or None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and self.lookup("getattr") is None
        ):
            base = self.resolve(node.args[0])
            return f"{base}.{node.args[1].value}" if base else None
        return None

    def _note_instance(self, node: ast.Assign | ast.AnnAssign, targets: list[ast.expr]) -> None:
        """Remember ``x = SomeClass(...)`` / ``x: SomeClass[...]`` as "x is a SomeClass"."""
        source: ast.expr | None = node.value.func if isinstance(node.value, ast.Call) else None
        if source is None and isinstance(node, ast.AnnAssign):
            annotation = node.annotation
            source = annotation.value if isinstance(annotation, ast.Subscript) else annotation
        if source is None:
            return
        qualname = self.resolve(source)
        if qualname:
            for target in targets:
                key = target.id if isinstance(target, ast.Name) else _self_attr(target)
                if key:
                    self.instances[key] = qualname
                if isinstance(target, ast.Name) and self.scope.kind == "class":
                    self.instances["self." + target.id] = qualname  # a declared attribute

    def instance_of(self, expr: ast.expr) -> str | None:
        """The class a name (or ``self.attr``) was last assigned an instance of, if known."""
        key = expr.id if isinstance(expr, ast.Name) else _self_attr(expr)
        return self.instances.get(key) if key else None

    def bind_targets(self, target: ast.AST) -> None:
        """Bind every plain name in an assignment target as a local."""
        if isinstance(target, ast.Name):
            self.bind(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self.bind_targets(elt)
        elif isinstance(target, ast.Starred):
            self.bind_targets(target.value)

    def bind_assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        """Bind assignment targets; ``x = some.imported.name`` makes ``x`` an alias."""
        targets: list[ast.expr] = (
            list(node.targets) if isinstance(node, ast.Assign) else [node.target]
        )
        value = node.value
        self._note_instance(node, targets)
        alias: str | None = None
        if isinstance(value, ast.Name | ast.Attribute):
            found = self.resolve(value)
            if found and (isinstance(value, ast.Attribute) or self.lookup(value.id)):
                alias = found
        for target in targets:
            if alias is not None and isinstance(target, ast.Name):
                self.bind(target.id, alias)
                if value is not None:
                    self.alias_values[id(value)] = value
            else:
                self.bind_targets(target)


def _self_attr(node: ast.expr) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return "self." + node.attr
    return None
