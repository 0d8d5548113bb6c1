"""The same rules as a flake8 plugin (entry point ``BAS`` in ``flake8.extension``).

flake8 owns ``# noqa`` here: it hides a finding whose code its noqa names (its regex
stops at `` -- reason``). The plugin still reports BAS901/BAS902 for unjustified or
useless ``# noqa: BAS...`` comments, reads ``[tool.bastion.check]`` from the nearest
pyproject.toml (rule selection, test files, allowlist), and imports nothing from
flake8 itself. Only files that import bastion are reported, unless
``flake8-all-files = true`` is configured: flake8 runs on every project, Bastion's
rules only make sense where Bastion is used.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from bastion.checks._config import Config, ConfigError, find_pyproject, load_config, selected
from bastion.checks._context import FileContext
from bastion.checks._engine import walk_file
from bastion.checks._file import module_name, relative
from bastion.checks._model import Rule
from bastion.checks._registry import all_rules
from bastion.checks._suppress import apply_noqa, parse_noqa, reason_problem

__all__ = ["Plugin"]

_PER_RUN_ONLY = frozenset({"BAS903", "BAS904"})


@cache
def _settings(pyproject: Path | None) -> tuple[Config, tuple[type[Rule], ...], str | None]:
    """Configuration, enabled rules, and the configuration error to report (if any)."""
    rules = all_rules()
    try:
        config = load_config(pyproject)
        enabled = selected(((c, r.name) for c, r in rules.items()), config.select, config.ignore)
    except ConfigError as exc:  # reported on every file: a broken gate must not pass silently
        return Config(), (), str(exc)
    return config, tuple(rules[c] for c in sorted(enabled - _PER_RUN_ONLY)), None


class Plugin:
    """flake8 checker: ``Plugin(tree, filename, lines).run()`` yields flake8 tuples."""

    name = "bastion-check"
    version = "0.1.0"

    def __init__(
        self, tree: ast.AST, filename: str = "stdin", lines: list[str] | None = None
    ) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines or []

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        """Every finding of the enabled rules, allowlist applied, noqa left to flake8."""
        path = Path(self.filename)
        start = path.parent if path.parent.exists() else Path.cwd()
        config, rules, error = _settings(find_pyproject(start))
        if error is not None:
            yield 1, 0, f"BAS000 config-error bastion configuration: {error}", type(self)
            return
        rel = relative(path, config.root)
        module, is_package = module_name(path, config.root)
        ctx = FileContext(
            self.filename, module, is_test=config.is_test(rel), is_package=is_package,
            virtual_time_tests=config.virtual_time_tests,
        )  # fmt: skip
        walk_file(self.tree, ctx, rules)
        ours = ctx.imports_bastion or module.partition(".")[0] == "bastion"
        if not (ours or config.flake8_all_files):
            return  # plain asyncio code is not ours to judge unless configured
        enabled = {r.code for r in rules if ctx.is_test or not r.tests_only}
        comments = parse_noqa("".join(self.lines))
        aliases = {r.code: r.aliases for r in rules if r.aliases}
        findings = apply_noqa(
            self.filename, ctx.findings, comments, set(all_rules()), enabled, aliases
        )
        own_codes = {n.line: n.codes for n in comments}
        allow = [e for e in config.allow if reason_problem(e.reason) is None]
        for finding in findings:
            if finding.code not in enabled and finding.code not in {"BAS000", "BAS901", "BAS902"}:
                continue
            if finding.suppression is not None and not any(
                finding.code.startswith(c) for c in own_codes.get(finding.line, ())
            ):
                continue  # hidden by an alias code (BLE001...), which flake8 does not map
            if any(e.covers(finding.code, finding.rule, finding.symbol, rel) for e in allow):
                continue
            message = f"{finding.code} {finding.rule} {finding.message}"
            yield finding.line, finding.col - 1, message, type(self)
