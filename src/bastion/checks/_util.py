"""Small AST predicates shared by the built-in rules."""

from __future__ import annotations

import ast
import math

from bastion.checks._context import FileContext

__all__ = ["body_raises", "has_keyword", "is_unbounded", "keyword", "method_name", "raises_span"]

_INF_NAMES = frozenset({"math.inf", "numpy.inf", "float.inf"})


def method_name(call: ast.Call) -> str | None:
    """``attr`` for a call of the form ``<expr>.attr(...)``, else None."""
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The value passed as keyword ``name``, if any."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def has_keyword(call: ast.Call, name: str) -> bool:
    """Whether keyword ``name`` is passed (or ``**kwargs`` might pass it)."""
    return any(kw.arg == name or kw.arg is None for kw in call.keywords)


def is_unbounded(expr: ast.expr, ctx: FileContext) -> bool:
    """Whether ``expr`` is a literal "no deadline": ``None``, ``math.inf``, ``float("inf")``."""
    if isinstance(expr, ast.Constant):
        value = expr.value
        return value is None or (isinstance(value, float) and math.isinf(value) and value > 0)
    if isinstance(expr, ast.Name | ast.Attribute):
        return ctx.resolve(expr) in _INF_NAMES
    if (
        isinstance(expr, ast.Call)
        and len(expr.args) == 1
        and isinstance(expr.args[0], ast.Constant)
        and isinstance(expr.args[0].value, str)
        and ctx.resolve(expr.func) in {"float", "decimal.Decimal"}
    ):
        return expr.args[0].value.strip().lower().lstrip("+") in {"inf", "infinity"}
    return False


def body_raises(body: list[ast.stmt]) -> bool:
    """Whether a statement list contains a ``raise`` outside nested definitions."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def raises_span(node: ast.With | ast.AsyncWith, ctx: FileContext) -> tuple[int, int] | None:
    """The first and last line of a ``with pytest.raises(...)`` block, else None (code a
    test breaks on purpose inside it is not flagged)."""
    if any(
        isinstance(i.context_expr, ast.Call) and ctx.resolve(i.context_expr.func) == "pytest.raises"
        for i in node.items
    ):
        return node.lineno, node.end_lineno or node.lineno
    return None
