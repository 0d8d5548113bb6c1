"""BAS7xx ``catch-all``: handlers that swallow every error, cancellation included."""

from __future__ import annotations

import ast
from typing import ClassVar

from bastion.checks._model import Rule
from bastion.checks._util import body_raises

__all__ = ["BareExcept", "BroadExcept", "BroadSuppress"]

_BROAD = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})
_SUPPRESS = frozenset({"contextlib.suppress"})
_ADVICE = "catch the specific errors you handle, or re-raise (`raise` / `raise X from exc`)"


def _broad_names(expr: ast.expr | None, resolve: object) -> list[str]:
    if expr is None:
        return []
    items = expr.elts if isinstance(expr, ast.Tuple) else [expr]
    found = []
    for item in items:
        qualname = resolve(item)  # type: ignore[operator]
        if qualname in _BROAD:
            found.append(qualname.rpartition(".")[2])
    return found


class BareExcept(Rule):
    """``except:`` catches everything, including cancellation and exit."""

    code = "BAS701"
    name = "catch-all"
    summary = "bare `except:`"
    aliases = ("E722", "B001")
    explanation = """\
A bare `except:` catches `BaseException`: `CancelledError` (so the task can no longer be
cancelled and shutdown hangs), `KeyboardInterrupt`, `SystemExit` and every bug. In an
actor, let it crash: the supervisor restarts it from a known state. Catch the specific
exceptions you can handle. `except BaseException:`/`except Exception:` that re-raise
are fine (see BAS702).

    # bad
    try:
        handle(msg)
    except:
        pass
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.ExceptHandler,)

    def visit(self, node: ast.AST) -> None:
        assert isinstance(node, ast.ExceptHandler)
        if node.type is None:
            self.report(node, f"bare `except:` catches cancellation and exit too: {_ADVICE}")


class BroadExcept(Rule):
    """``except Exception``/``BaseException`` that does not re-raise."""

    code = "BAS702"
    name = "catch-all"
    summary = "`except Exception` / `except BaseException` that does not re-raise"
    aliases = ("BLE001", "B036")
    explanation = """\
A handler for `Exception` or `BaseException` (alone or in a tuple, however aliased)
whose body never raises swallows every failure: the actor carries on in an unknown
state and the supervisor never hears about it (`BaseException` also swallows
cancellation). A handler that raises anywhere in its body (`raise`, `raise exc`,
`raise Wrapped(...) from exc`) is fine: the error still propagates, maybe converted.
When a catch-all is truly the point (a runtime boundary that logs and reports a crash),
say why: `# noqa: BAS702 -- <reason>` or an allowlist entry. Ruff's and bugbear's codes
for the same problem count too (`# noqa: BLE001 -- <reason>`, `B036`), with the same
demand for a reason, so one justified comment serves both tools.

    # bad
    except Exception:
        log.warning("ignored")
    # good
    except Exception as exc:
        raise HandlerFailed(msg) from exc
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.ExceptHandler,)

    def visit(self, node: ast.AST) -> None:
        assert isinstance(node, ast.ExceptHandler)
        names = _broad_names(node.type, self.ctx.resolve)
        if names and not body_raises(node.body):
            self.report(node, f"`except {'/'.join(names)}` swallows the error: {_ADVICE}")


class BroadSuppress(Rule):
    """``contextlib.suppress(Exception)``: a catch-all without a handler."""

    code = "BAS703"
    name = "catch-all"
    summary = "`contextlib.suppress(Exception)` / `suppress(BaseException)`"
    explanation = """\
`with contextlib.suppress(Exception):` is `try/except Exception: pass` in one line, and
swallows every failure (with `BaseException`, cancellation too). Suppress only the
specific exceptions you expect, e.g. `suppress(FileNotFoundError)`.
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Call,)

    def visit(self, node: ast.AST) -> None:
        assert isinstance(node, ast.Call)
        if not node.args or self.ctx.resolve(node.func) not in _SUPPRESS:
            return
        names = [n for arg in node.args for n in _broad_names(arg, self.ctx.resolve)]
        if names:
            self.report(node, f"`suppress({', '.join(names)})` swallows every error: {_ADVICE}")
