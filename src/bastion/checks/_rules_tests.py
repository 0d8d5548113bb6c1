"""BAS6xx ``sleep-in-test``: tests that wait by sleeping."""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import ClassVar

from bastion.checks._context import FileContext
from bastion.checks._model import Rule, Suppression
from bastion.checks._sleeps import SleepSite, neighbours, sleep_call, suggest

__all__ = ["SleepCollector", "SleepInTest"]

_Around = tuple[ast.stmt | None, ast.stmt | None]
_VIRTUAL = Suppression("config", "virtual-time-tests: an awaited sleep advances virtual time")


class SleepCollector(Rule):
    """Collects every sleep call with its replacement advice (not a registered rule)."""

    code = "BAS600"
    name = "sleep-site"
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Call,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self.found: list[tuple[ast.Call, str, float | None, bool, str, str, _Around]] = []
        self.sites: list[SleepSite] = []

    def visit(self, node: ast.AST) -> None:
        assert isinstance(node, ast.Call)
        info = sleep_call(node, self.ctx)
        if info is not None:
            func = self.ctx.function
            tree = self.ctx.tree  # the block being walked: big files are walked in blocks
            around = neighbours(tree, node) if tree is not None else (None, None)
            context = ast.unparse(func.node) if func is not None and func.node else ""
            self.found.append(
                (node, info[0], info[1], self.ctx.in_async, self.ctx.symbol, context, around)
            )  # fmt: skip

    def finish(self) -> None:
        for node, function, seconds, in_async, symbol, context, (before, after) in self.found:
            advice = suggest(
                function, seconds, in_async=in_async, before=before, after=after, context=context
            )
            site = SleepSite(
                self.ctx.path,
                node.lineno,
                node.col_offset + 1,
                function,
                seconds,
                in_async,
                symbol,
                advice,
            )
            self.sites.append(site)
            self.on_site(node, site)

    def on_site(self, node: ast.Call, site: SleepSite) -> None:
        """Hook for subclasses: called once per sleep found."""


class SleepInTest(SleepCollector):
    """A test that sleeps to wait for something."""

    code = "BAS601"
    name = "sleep-in-test"
    summary = "sleep in a test file"
    explanation = """\
A test that sleeps is slow when the sleep is long enough and flaky when it is not. In
test files (the `test-files` patterns) the rule flags `time.sleep(...)` and non-zero
`asyncio.sleep`, `trio.sleep` and `anyio.sleep`, however imported. `await
asyncio.sleep(0)` is a scheduling checkpoint, not a wait, and is allowed. Each finding
carries a suggested replacement from `bastion.testing`: `await
bastion.testing.wait_for(cond, timeout=...)`, `await rt.wait_idle()`, `await
probe.assert_receive(...)`, `wait_for_state(ref, predicate)`, or virtual time (the
`clock` fixture, `await clock.advance(seconds)`) for timer-driven behaviour. `bastion check --sleeps
tests/` lists every sleep with its suggestion. With `virtual-time-tests = true` in the
configuration (async tests run on a virtual-time loop, as under Bastion's pytest
plugin), an awaited async sleep inside `async def` advances virtual time at no real
cost: it is reported as suppressed (kind `config`), not as a failure; `time.sleep`
always fails.
"""
    tests_only = True

    def on_site(self, node: ast.Call, site: SleepSite) -> None:
        if site.is_checkpoint:
            return
        message = f"`{site.function}` in a test: {site.suggestion}"
        self.ctx.report(node, self.code, self.name, message, symbol=site.symbol)
        if self.ctx.virtual_time_tests and site.function != "time.sleep" and site.in_async:
            findings = self.ctx.findings
            findings[-1] = replace(findings[-1], suppression=_VIRTUAL)
