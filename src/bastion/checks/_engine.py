"""The single-pass walker: one traversal per file, dispatching nodes to every rule.

Rules never walk the tree themselves (bugbear/ruff style): the engine visits each node
once, keeps the scope model of :class:`FileContext` current, and calls the rules that
asked for that node type.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from typing import Any

from bastion.checks._context import FileContext
from bastion.checks._model import PARSE_ERROR, Finding, Rule

__all__ = ["parse_error", "walk_blocks", "walk_file"]

_Callback = Callable[[ast.AST], None]
_SKIP_FIELDS = frozenset({"ctx", "type_comment", "kind"})


_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {
    cls: tuple(f for f in cls._fields if f not in _SKIP_FIELDS)
    for cls in vars(ast).values()
    if isinstance(cls, type) and issubclass(cls, ast.AST)
}


def _fields(node_type: type[ast.AST]) -> tuple[str, ...]:
    found = _FIELDS.get(node_type)
    if found is None:  # an AST class this table does not know: compute, do not cache
        found = tuple(f for f in node_type._fields if f not in _SKIP_FIELDS)
    return found


def _bind_params(ctx: FileContext, args: ast.arguments) -> None:
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        ctx.bind(arg.arg)
    if args.vararg is not None:
        ctx.bind(args.vararg.arg)
    if args.kwarg is not None:
        ctx.bind(args.kwarg.arg)


def _bind_with(ctx: FileContext, node: ast.With | ast.AsyncWith) -> None:
    for item in node.items:
        if item.optional_vars is not None:
            ctx.bind_targets(item.optional_vars)


def _bind_handler(ctx: FileContext, node: ast.ExceptHandler) -> None:
    if node.name:
        ctx.bind(node.name)


def _bind_for(ctx: FileContext, node: ast.For | ast.AsyncFor) -> None:
    ctx.bind_targets(node.target)


def _bind_named(ctx: FileContext, node: ast.NamedExpr) -> None:
    ctx.bind_targets(node.target)


_BINDERS: dict[type[ast.AST], Callable[[FileContext, Any], None]] = {
    ast.Import: FileContext.bind_import,
    ast.ImportFrom: FileContext.bind_import,
    ast.Assign: FileContext.bind_assign,
    ast.AnnAssign: FileContext.bind_assign,
    ast.With: _bind_with,
    ast.AsyncWith: _bind_with,
    ast.For: _bind_for,
    ast.AsyncFor: _bind_for,
    ast.ExceptHandler: _bind_handler,
    ast.NamedExpr: _bind_named,
}


class _Walker:
    def __init__(self, ctx: FileContext, rules: Iterable[Rule]) -> None:
        self.ctx = ctx
        self.visits: dict[type[ast.AST], list[_Callback]] = {}
        self.leaves: dict[type[ast.AST], list[_Callback]] = {}
        for rule in rules:
            for node_type in rule.node_types:
                self.visits.setdefault(node_type, []).append(rule.visit)
            for node_type in rule.leave_types:
                self.leaves.setdefault(node_type, []).append(rule.leave)

    def walk(self, node: ast.AST) -> None:
        node_type = type(node)
        binder = _BINDERS.get(node_type)
        if binder is not None:
            binder(self.ctx, node)
        callbacks = self.visits.get(node_type)
        if callbacks is not None:
            for callback in callbacks:
                callback(node)
        special = _SCOPES.get(node_type)
        if special is not None:
            special(self, node)
        else:
            walk = self.walk
            fields = _FIELDS.get(node_type)
            for name in _fields(node_type) if fields is None else fields:
                value = getattr(node, name, None)
                if type(value) is list:
                    for item in value:
                        if isinstance(item, ast.AST):
                            walk(item)
                elif isinstance(value, ast.AST):
                    walk(value)
        leaves = self.leaves.get(node_type)
        if leaves is not None:
            for callback in leaves:
                callback(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        ctx = self.ctx
        ctx.bind(node.name)
        for expr in node.decorator_list:
            self.walk(expr)
        self.walk(node.args)
        if node.returns is not None:
            self.walk(node.returns)
        ctx.push("function", node.name, node, is_async=isinstance(node, ast.AsyncFunctionDef))
        _bind_params(ctx, node.args)
        for stmt in node.body:
            self.walk(stmt)
        ctx.pop()

    def _class(self, node: ast.ClassDef) -> None:
        ctx = self.ctx
        ctx.bind(node.name)
        for expr in (*node.decorator_list, *node.bases, *node.keywords):
            self.walk(expr)
        ctx.push("class", node.name, node)
        for stmt in node.body:
            self.walk(stmt)
        ctx.pop()

    def _lambda(self, node: ast.Lambda) -> None:
        ctx = self.ctx
        self.walk(node.args)
        ctx.push("function", "<lambda>", node)
        _bind_params(ctx, node.args)
        self.walk(node.body)
        ctx.pop()


_SCOPES: dict[type[ast.AST], Callable[[_Walker, Any], None]] = {
    ast.FunctionDef: _Walker._function,
    ast.AsyncFunctionDef: _Walker._function,
    ast.ClassDef: _Walker._class,
    ast.Lambda: _Walker._lambda,
}


def walk_file(tree: ast.AST, ctx: FileContext, rule_types: Iterable[type[Rule]]) -> list[Rule]:
    """Run every rule in ``rule_types`` over ``tree`` in one traversal.

    Findings land in ``ctx.findings``. A tree too deep to walk is reported as a
    ``parse-error`` finding rather than raised. Returns the rule instances.
    """
    return walk_blocks([tree], ctx, rule_types)


def walk_blocks(
    blocks: Iterable[ast.AST], ctx: FileContext, rule_types: Iterable[type[Rule]]
) -> list[Rule]:
    """:func:`walk_file` over a module given as consecutive blocks of top-level statements.

    Each block is walked, then dropped (``ctx.tree`` is the block being walked), so a
    huge file never holds its whole tree. ``SyntaxError`` from ``blocks`` propagates.
    """
    rules = [rule_type(ctx) for rule_type in rule_types if ctx.is_test or not rule_type.tests_only]
    walker = _Walker(ctx, rules)
    try:
        for block in blocks:
            ctx.tree = block
            walker.walk(block)
        ctx.tree = None
        for rule in rules:
            rule.finish()
    except RecursionError:
        ctx.findings.append(parse_error(ctx.path, 1, 1, "too deeply nested to check"))
    return rules


def parse_error(path: str, line: int, col: int, message: str) -> Finding:
    """The finding reported for a file that cannot be read, decoded or parsed."""
    code, name = PARSE_ERROR
    return Finding(path, max(line, 1), max(col, 1), code, name, message)
