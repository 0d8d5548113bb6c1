"""Checking one file: read, parse, walk, apply inline suppressions, fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from pathlib import Path

from bastion.checks._config import Config
from bastion.checks._context import FileContext
from bastion.checks._engine import parse_error, walk_blocks
from bastion.checks._model import Finding, Rule
from bastion.checks._parse import SourceError, decode, parse_blocks
from bastion.checks._suppress import apply_noqa, parse_noqa

__all__ = ["check_source", "fingerprint", "module_name", "relative", "resolved_path"]


@cache
def _package_parts(directory: Path) -> tuple[str, ...]:
    if (directory / "__init__.py").is_file():
        return (*_package_parts(directory.parent), directory.name)
    return ()


def resolved_path(path: Path) -> Path:
    """``path.resolve()``, or the absolute path when it is a symlink loop (never raises)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop is a RuntimeError before Python 3.13
        return path.absolute()


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators (absolute if outside it)."""
    resolved = resolved_path(path)
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return resolved.as_posix()


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    """The dotted module name of a file and whether it is a package ``__init__``.

    Files inside packages get their import name (``src/bastion/_core/_cell.py`` →
    ``bastion._core._cell``); other files get their path from the root, dotted, without
    a leading ``src`` (``tests/checks/test_cli.py`` → ``tests.checks.test_cli``).
    """
    parts = _package_parts(resolved_path(path).parent)
    stem = path.stem
    if not parts:
        rel = relative(path.with_suffix(""), root).split("/")
        parts = tuple(p for p in rel[:-1] if p not in {"", ".", ".."})
        if parts[:1] == ("src",):
            parts = parts[1:]
    if stem == "__init__":
        return ".".join(parts) or stem, True
    return ".".join((*parts, stem)), False


def fingerprint(finding: Finding, relpath: str, line_text: str) -> str:
    """Stable identity of a finding for baselines and SARIF: survives line moves."""
    key = "\x1f".join((finding.code, relpath, finding.symbol, " ".join(line_text.split())))
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:20]


def check_source(
    source: str | bytes,
    path: str,
    rules: list[type[Rule]],
    *,
    module: str = "",
    is_test: bool = False,
    is_package: bool = False,
    relpath: str | None = None,
    known: set[str] | None = None,
    virtual_time_tests: bool = False,
) -> tuple[list[Finding], int]:
    """Findings for one file's source (inline noqa applied), and its line count."""
    try:
        text = decode(source) if isinstance(source, bytes) else source
    except SourceError as exc:
        return [parse_error(path, 1, 1, str(exc))], 0
    ctx = FileContext(
        path, module or Path(path).stem, is_test=is_test, is_package=is_package,
        virtual_time_tests=virtual_time_tests,
    )  # fmt: skip
    try:
        walk_blocks(parse_blocks(text, path), ctx, rules)
    except SyntaxError as exc:
        line = exc.lineno or 1
        return [parse_error(path, line, exc.offset or 1, f"cannot parse: {exc.msg}")], 0
    except RecursionError:
        return [parse_error(path, 1, 1, "cannot parse: too deeply nested for the parser")], 0
    except ValueError as exc:  # e.g. "source code string cannot contain null bytes"
        return [parse_error(path, 1, 1, f"cannot parse: {exc}")], 0
    enabled = {r.code for r in rules if is_test or not r.tests_only}
    aliases = {r.code: r.aliases for r in rules if r.aliases}
    findings = apply_noqa(path, ctx.findings, parse_noqa(text), known or enabled, enabled, aliases)
    lines = text.splitlines()
    rel = relpath or path
    stamped = [
        replace(
            f, fingerprint=fingerprint(f, rel, lines[f.line - 1] if f.line <= len(lines) else "")
        )
        for f in findings
    ]
    return stamped, len(lines)


def check_file(
    path: Path, shown: str, config: Config, rules: list[type[Rule]], known: set[str]
) -> tuple[list[Finding], int, str]:
    """Check one file on disk: findings, line count and module name."""
    rel = relative(path, config.root)
    module, is_package = module_name(path, config.root)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [parse_error(shown, 1, 1, f"cannot read: {exc.strerror or exc}")], 0, module
    findings, count = check_source(
        data, shown, rules, module=module, is_test=config.is_test(rel),
        is_package=is_package, relpath=rel, known=known,
        virtual_time_tests=config.virtual_time_tests,
    )  # fmt: skip
    return findings, count, module
