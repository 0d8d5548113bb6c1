"""BAS1xx ``raw-send``: unchecked delivery outside the kernel."""

from __future__ import annotations

import ast
from typing import ClassVar

from bastion.checks._model import Rule

__all__ = ["MailboxAccess", "RawSend"]

RAW_SEND_TARGETS = frozenset({"bastion.lowlevel.send", "bastion._core.lowlevel.send"})
_QUEUE_OPS = frozenset({"put", "put_nowait", "get", "get_nowait", "append", "appendleft", "clear"})
_MAILBOX_MODULES = ("bastion._core._mailbox",)


class RawSend(Rule):
    """``bastion.lowlevel.send`` used outside the kernel, however it is imported."""

    code = "BAS101"
    name = "raw-send"
    summary = "bastion.lowlevel.send used outside the kernel"
    explanation = """\
`bastion.lowlevel.send(ref, msg)` is the one unchecked delivery path: it does not raise
when the target is dead, does not apply mailbox backpressure and is not counted in the
dead-letter statistics. Application code must use `await ref.cast(msg)` (checked,
backpressured), `ref.cast_nowait(msg)` (raises MailboxFull) or
`await ref.call(msg, timeout=...)`.

The rule resolves qualified names, so every spelling is caught: `import bastion.lowlevel`,
`from bastion import lowlevel as ll`, `from bastion.lowlevel import send as s`, an alias
assignment `post = ll.send`, `getattr(ll, "send")`, or passing the function as a value
(`loop.call_soon(ll.send, ref, msg)`). A local function that happens to be called `send`
is not flagged. The kernel is exempted through the allowlist, with a reason, not by file
name.

    # bad
    from bastion.lowlevel import send
    send(ref, Ping())
    # good
    await ref.cast(Ping())
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Name, ast.Attribute, ast.Call)

    def visit(self, node: ast.AST) -> None:
        ctx = self.ctx
        if not ctx.imports_bastion:  # nothing can resolve to bastion.lowlevel without it
            return
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load) or ctx.lookup(node.id) not in RAW_SEND_TARGETS:
                return
        elif isinstance(node, ast.Attribute):
            if node.attr != "send" or not isinstance(node.ctx, ast.Load):
                return
            if ctx.resolve(node) not in RAW_SEND_TARGETS:
                return
        elif not (
            isinstance(node.func, ast.Name)  # type: ignore[attr-defined]
            and node.func.id == "getattr"  # type: ignore[attr-defined]
            and ctx.resolve(node) in RAW_SEND_TARGETS
        ):
            return
        if id(node) in ctx.alias_values:
            return
        self.report(
            node,
            "unchecked bastion.lowlevel.send outside the kernel: use "
            "`await ref.cast(msg)`, `ref.cast_nowait(msg)` or `await ref.call(msg, timeout=...)`",
        )


class MailboxAccess(Rule):
    """An actor's mailbox touched directly instead of through its ref."""

    code = "BAS102"
    name = "raw-send"
    summary = "direct mailbox access outside the kernel"
    explanation = """\
Putting into (or taking from) an actor's mailbox directly bypasses the same checks
as `bastion.lowlevel.send`: liveness, bounds, dead letters, statistics. The rule flags
the private `_mailbox` attribute on any object, `<x>.mailbox.put(...)`-style queue
operations, and any use of the kernel's mailbox module (`bastion._core._mailbox`).
An attribute merely *named* `mailbox` (say, an e-mail client's) is not flagged unless a
queue operation is called on it.

    # bad
    ref._mailbox.put_nowait(msg)
    # good
    ref.cast_nowait(msg)
"""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Attribute, ast.ImportFrom, ast.Import)

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node)
            return
        assert isinstance(node, ast.Attribute)
        attr = node.attr
        if attr == "_mailbox":
            self.report(node, "direct access to an actor's `_mailbox`: go through its ref")
        elif (
            attr in _QUEUE_OPS
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "mailbox"
        ):
            self.report(node, f"direct `mailbox.{attr}` on an actor's mailbox: go through its ref")

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.ImportFrom):
            module = self.ctx.resolve_module(node)
            names = [module] + [f"{module}.{a.name}" for a in node.names]
        else:
            names = [a.name for a in node.names]
        if any(n.startswith(_MAILBOX_MODULES) for n in names):
            self.report(node, "imports the kernel's mailbox module: go through actor refs")
