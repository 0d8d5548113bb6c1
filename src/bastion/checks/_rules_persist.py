"""BAS8xx ``persistent-field``: PersistentAgent declarations that cannot be restored."""

from __future__ import annotations

import ast
from typing import ClassVar

from bastion.checks._context import FileContext
from bastion.checks._model import Rule
from bastion.checks._types import unencodable
from bastion.checks._util import raises_span

__all__ = ["PersistentFields"]

_FIELDS = "persistent_fields"


def _class_attrs(node: ast.ClassDef) -> dict[str, ast.expr | None]:
    """Attributes a class defines, with their annotation when one is written."""
    attrs: dict[str, ast.expr | None] = {}
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            attrs[stmt.target.id] = stmt.annotation
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    attrs.setdefault(target.id, None)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            if stmt.name == "__init__":
                _init_attrs(stmt, attrs)
            elif any(isinstance(d, ast.Name) and d.id == "property" for d in stmt.decorator_list):
                attrs.setdefault(stmt.name, stmt.returns)
    return attrs


def _init_attrs(
    func: ast.FunctionDef | ast.AsyncFunctionDef, attrs: dict[str, ast.expr | None]
) -> None:
    for node in ast.walk(func):
        target: ast.expr | None = None
        annotation: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target, annotation = node.target, node.annotation
        elif isinstance(node, ast.Assign | ast.AugAssign):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if _is_self_attr(t):
                    attrs.setdefault(t.attr, None)  # type: ignore[attr-defined]
            continue
        if target is not None and _is_self_attr(target):
            attrs[target.attr] = annotation or attrs.get(target.attr)  # type: ignore[attr-defined]


def _is_self_attr(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


class PersistentFields(Rule):
    """``persistent_fields`` naming attributes that do not exist or cannot be encoded."""

    code = "BAS801"
    name = "persistent-field"
    summary = "PersistentAgent field undefined or not encodable by the codec"
    explanation = """\
A `PersistentAgent` declares `persistent_fields` (a tuple of attribute names, or a dict
name -> type); those attributes are saved after each handled message and restored on
restart. A name the class does not define (as a class-level annotation or default, or
assigned on `self` in `__init__`, here or in a base class of the same file) is never
saved: the typo is found at the first crash, when state is silently lost. A declared
type the codec cannot encode (it handles JSON types plus deque, set, frozenset, tuple,
datetime, Decimal, UUID, dataclasses and msgspec Structs; never pickle) fails at the
first save. Unknown third-party types are not flagged; stdlib types outside that list
(locks, queues, paths, callables...) and classes of the same file that are neither
dataclasses nor Structs are. A class defined inside `with pytest.raises(...)` (a test
that the runtime rejects it) is not flagged.

    class Cart(PersistentAgent):
        persistent_fields = ("items", "totl")   # BAS801: `totl` is not defined
        items: list[str]
        lock: asyncio.Lock                       # fine: not persistent
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.ClassDef, ast.With)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.classes: dict[str, ast.ClassDef] = {}
        self.persistent: set[str] = set()
        self.expect_raise: list[tuple[int, int]] = []

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.With):  # a deliberately broken class inside pytest.raises
            if (span := raises_span(node, self.ctx)) is not None:
                self.expect_raise.append(span)
            return
        assert isinstance(node, ast.ClassDef)
        self.classes[node.name] = node
        if not self._is_persistent(node):
            return
        if any(start <= node.lineno <= end for start, end in self.expect_raise):
            return
        self.persistent.add(node.name)
        declared = self._declared(node)
        if declared is None:
            return
        attrs, complete = self._attrs(node, set())
        for name, (where, typ) in declared.items():
            if name not in attrs and complete:
                self.report(
                    where,
                    f"persistent field `{name}` is not defined by {node.name}: "
                    "declare it on the class or assign it in __init__",
                )
                continue
            annotation = typ if typ is not None else attrs.get(name)
            bad = [] if annotation is None else unencodable(annotation, self.ctx, self.classes)
            if bad:
                self.report(
                    where,
                    f"persistent field `{name}` has type {', '.join(bad)}, which "
                    "the codec cannot encode",
                )

    def _is_persistent(self, node: ast.ClassDef) -> bool:
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in self.persistent:
                return True
            if (self.ctx.resolve(base) or "").rpartition(".")[2] == "PersistentAgent":
                return True
        return False

    def _declared(self, node: ast.ClassDef) -> dict[str, tuple[ast.AST, ast.expr | None]] | None:
        for stmt in node.body:
            value: ast.expr | None = None
            if (
                isinstance(stmt, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == _FIELDS for t in stmt.targets)
            ) or (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and stmt.target.id == _FIELDS
            ):
                value = stmt.value
            if isinstance(value, ast.Tuple | ast.List | ast.Set):
                return {
                    e.value: (e, None)
                    for e in value.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                }
            if isinstance(value, ast.Dict):
                return {
                    k.value: (k, v)
                    for k, v in zip(value.keys, value.values, strict=True)
                    if isinstance(k, ast.Constant) and isinstance(k.value, str)
                }
        return None

    def _attrs(self, node: ast.ClassDef, seen: set[str]) -> tuple[dict[str, ast.expr | None], bool]:
        """Attributes of ``node`` and its same-file bases; False if a base is unknown."""
        attrs: dict[str, ast.expr | None] = {}
        complete = True
        seen.add(node.name)
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in self.classes and base.id not in seen:
                inherited, known = self._attrs(self.classes[base.id], seen)
                attrs.update(inherited)
                complete = complete and known
            elif (self.ctx.resolve(base) or "").rpartition(".")[2] not in {
                "PersistentAgent",
                "Generic",
                "object",
                "ABC",
            }:
                complete = False
        attrs.update(_class_attrs(node))
        return attrs, complete
