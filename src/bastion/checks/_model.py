"""The checker's data model: rules, findings and suppressions (stdlib only)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from bastion.checks._context import FileContext

__all__ = ["CODE_PATTERN", "PARSE_ERROR", "Finding", "Rule", "Suppression"]

CODE_PATTERN = re.compile(r"^[A-Z]{1,3}[0-9]{1,4}$")
"""What a rule code looks like: the prefix flake8 accepts, then digits (``BAS101``)."""

PARSE_ERROR = ("BAS000", "parse-error")
"""Code and name reported for a file that cannot be read or parsed."""


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why a finding does not count: ``kind`` is ``inline``, ``allowlist`` or ``baseline``."""

    kind: str
    justification: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. ``line`` and ``col`` are 1-based.

    ``symbol`` is the qualified name of the enclosing module, class or function
    (``pkg.mod.Class.method``); allowlist entries and baselines match on it.
    """

    path: str
    line: int
    col: int
    code: str
    rule: str
    message: str
    symbol: str = ""
    end_line: int | None = None
    end_col: int | None = None
    suppression: Suppression | None = None
    fingerprint: str = ""

    def as_dict(self) -> dict[str, object]:
        """The JSON form: ``path``, ``line``, ``col``, ``code``, ``rule``, ``message`` and more."""
        data: dict[str, object] = {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "end_col": self.end_col,
            "code": self.code,
            "rule": self.rule,
            "message": self.message,
            "symbol": self.symbol,
            "fingerprint": self.fingerprint,
        }
        if self.suppression is not None:
            data["suppression"] = {
                "kind": self.suppression.kind,
                "justification": self.suppression.justification,
            }
        return data

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order findings by place, then code."""
        return (self.path, self.line, self.col, self.code)


class Rule:
    """Base class of every rule, built-in or third-party.

    A rule declares a ``code`` (``BAS101``), a stable kebab-case ``name``, a one-line
    ``summary`` and a longer ``explanation`` (shown by ``--explain``). The engine makes
    one instance per file and calls :meth:`visit` for every node whose type is in
    ``node_types``, :meth:`leave` after the children of nodes in ``leave_types``, and
    :meth:`finish` once at the end of the file. Report with ``self.ctx.report(...)``.
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    explanation: ClassVar[str] = ""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = ()
    leave_types: ClassVar[tuple[type[ast.AST], ...]] = ()
    aliases: ClassVar[tuple[str, ...]] = ()
    """Other tools' codes for the same problem; ``# noqa: ALIAS -- reason`` also suppresses."""
    tests_only: ClassVar[bool] = False
    """Run only on test files (see the ``test-files`` setting)."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx

    def visit(self, node: ast.AST) -> None:
        """Look at ``node`` (one of ``node_types``), before its children."""

    def leave(self, node: ast.AST) -> None:
        """Look at ``node`` (one of ``leave_types``), after its children."""

    def finish(self) -> None:
        """Called once after the whole file was walked."""

    def report(self, node: ast.AST, message: str) -> None:
        """Report a finding of this rule at ``node``."""
        self.ctx.report(node, self.code, self.name, message)
