"""Static view of what the persistence codec can encode (for ``persistent-field``)."""

from __future__ import annotations

import ast
import sys

from bastion.checks._context import FileContext

__all__ = ["unencodable"]

_ENCODABLE = frozenset(
    {
        "int", "float", "str", "bool", "None", "NoneType", "dict", "list", "tuple", "set",
        "frozenset", "collections.deque", "datetime.datetime", "decimal.Decimal", "uuid.UUID",
        "typing.Any", "typing.Optional", "typing.Union", "typing.Literal", "typing.Dict",
        "typing.List", "typing.Tuple", "typing.Set", "typing.FrozenSet", "typing.Deque",
        "typing.Annotated", "typing_extensions.Literal", "typing_extensions.Annotated",
        "msgspec.Struct",
    }
)  # fmt: skip
_BUILTIN_BAD = frozenset(
    {"object", "type", "complex", "bytearray", "memoryview", "range", "slice", "property",
     "bytes", "Ellipsis", "function"}
)  # fmt: skip
_ABC_OK = frozenset(
    {"Mapping", "MutableMapping", "Sequence", "MutableSequence", "Set", "MutableSet"}
)
_STDLIB = frozenset(sys.stdlib_module_names)


def _is_record_class(node: ast.ClassDef, ctx: FileContext) -> bool:
    """A dataclass or msgspec Struct defined in this file."""
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if (ctx.resolve(target) or "").endswith("dataclass"):
            return True
    return any(ctx.resolve(base) == "msgspec.Struct" for base in node.bases)


def unencodable(
    annotation: ast.expr, ctx: FileContext, classes: dict[str, ast.ClassDef]
) -> list[str]:
    """Names in a type expression the codec certainly cannot encode.

    Unknown third-party types are given the benefit of the doubt; what is certainly
    wrong is a stdlib or builtin type outside the codec's list (locks, queues, paths,
    callables...) or a class of this file that is neither a dataclass nor a Struct.
    """
    if isinstance(annotation, ast.Constant):
        if isinstance(annotation.value, str):
            try:
                parsed = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return []
            return unencodable(parsed, ctx, classes)
        return []
    if isinstance(annotation, ast.BinOp):
        return unencodable(annotation.left, ctx, classes) + unencodable(
            annotation.right, ctx, classes
        )
    if isinstance(annotation, ast.Subscript):
        outer = _check_name(annotation.value, ctx, classes)
        name = ctx.resolve(annotation.value) or ""
        if name.endswith(("Literal", "Annotated")):
            inner = annotation.slice
            if name.endswith("Annotated") and isinstance(inner, ast.Tuple) and inner.elts:
                return outer + unencodable(inner.elts[0], ctx, classes)
            return outer
        return outer + unencodable(annotation.slice, ctx, classes)
    if isinstance(annotation, ast.Tuple | ast.List):
        return [bad for elt in annotation.elts for bad in unencodable(elt, ctx, classes)]
    if isinstance(annotation, ast.Name | ast.Attribute):
        return _check_name(annotation, ctx, classes)
    return []


def _check_name(expr: ast.expr, ctx: FileContext, classes: dict[str, ast.ClassDef]) -> list[str]:
    if isinstance(expr, ast.Constant) and expr.value is None:
        return []
    if isinstance(expr, ast.Name) and expr.id in classes and ctx.lookup(expr.id) == "":
        return [] if _is_record_class(classes[expr.id], ctx) else [expr.id]
    qualname = ctx.resolve(expr)
    if qualname is None or qualname in _ENCODABLE:
        return []
    if qualname in _BUILTIN_BAD:
        return [qualname]
    module = qualname.partition(".")[0]
    if qualname.startswith("collections.abc.") and qualname.rpartition(".")[2] in _ABC_OK:
        return []
    if "." in qualname and module in _STDLIB and module not in {"typing", "typing_extensions"}:
        return [qualname]
    if module in {"typing", "collections"} and qualname.rpartition(".")[2] in {
        "Callable",
        "Awaitable",
        "Coroutine",
        "Iterator",
        "Generator",
        "AsyncIterator",
    }:
        return [qualname]
    return []
