"""``[tool.bastion.check]`` in pyproject.toml: rule selection, test files, allowlist."""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["AllowEntry", "Config", "ConfigError", "find_pyproject", "load_config"]

DEFAULT_TEST_FILES = ("tests/**", "test/**", "test_*.py", "*_test.py", "conftest.py")
DEFAULT_EXCLUDE = (".git", ".venv", "venv", "build", "dist", "__pycache__", ".*")
_KEYS = frozenset(
    {
        "select", "ignore", "test-files", "exclude", "allow", "baseline", "jobs",
        "virtual-time-tests", "flake8-all-files",
    }
)  # fmt: skip
_ALLOW_KEYS = frozenset({"rules", "symbol", "reason", "path"})


class ConfigError(ValueError):
    """The configuration or the command line is invalid (exit status 2)."""


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One justified exception: ``rules`` may fire in ``symbol`` (a module or function).

    ``symbol`` matches a finding's enclosing qualified name exactly or as a dotted
    prefix (``bastion._core`` covers ``bastion._core._cell.Cell.run``); ``path``, if
    given, is a glob the file's relative path must also match.
    """

    rules: tuple[str, ...]
    symbol: str
    reason: str
    path: str | None = None
    line: int = 1

    def covers_symbol(self, symbol: str) -> bool:
        """Whether ``symbol`` lies under this entry's symbol."""
        return symbol == self.symbol or symbol.startswith(self.symbol + ".")

    def covers(self, code: str, rule: str, symbol: str, relpath: str) -> bool:
        """Whether this entry excuses a finding with these attributes."""
        if not any(code.startswith(r) or r == rule for r in self.rules):
            return False
        if self.path is not None and not fnmatch.fnmatch(relpath, self.path):
            return False
        return self.covers_symbol(symbol)


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a run needs besides the paths; read once, shared with the workers."""

    root: Path = field(default_factory=Path.cwd)
    source: Path | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    test_files: tuple[str, ...] = DEFAULT_TEST_FILES
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    allow: tuple[AllowEntry, ...] = ()
    baseline: str | None = None
    jobs: int = 0
    virtual_time_tests: bool = False
    """Async tests run on a virtual-time loop: ``await asyncio.sleep(n)`` costs no real time."""
    flake8_all_files: bool = False
    """The flake8 plugin checks every file, not only files that import bastion."""

    def is_test(self, relpath: str) -> bool:
        """Whether a file (path relative to the root, ``/``-separated) is a test file."""
        name = relpath.rpartition("/")[2]
        return any(fnmatch.fnmatch(relpath if "/" in p else name, p) for p in self.test_files)

    def is_excluded(self, relpath: str) -> bool:
        """Whether directory discovery skips this path (explicit files are always checked)."""
        name = relpath.rpartition("/")[2]
        return any(fnmatch.fnmatch(relpath if "/" in p else name, p) for p in self.exclude)


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _strings(section: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    value = section.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: `{key}` must be a list of strings")
    return tuple(value)


def _entry_lines(text: str) -> list[int]:
    return [
        number
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip().replace(" ", "") == "[[tool.bastion.check.allow]]"
    ]


def _allow(raw: Any, where: str, lines: list[int]) -> tuple[AllowEntry, ...]:
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: `allow` must be an array of tables")
    entries = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}: allow entry {index + 1} must be a table")
        unknown = set(item) - _ALLOW_KEYS
        if unknown:
            raise ConfigError(f"{where}: allow entry {index + 1}: unknown keys {sorted(unknown)}")
        rules = item.get("rules")
        if isinstance(rules, str):
            rules = [rules]
        symbol = item.get("symbol")
        if not rules or not all(isinstance(r, str) for r in rules) or not isinstance(symbol, str):
            raise ConfigError(
                f"{where}: allow entry {index + 1} needs `rules` (codes or names) and `symbol`"
            )
        reason = item.get("reason", "")
        path = item.get("path")
        if not isinstance(reason, str) or not (path is None or isinstance(path, str)):
            raise ConfigError(f"{where}: allow entry {index + 1}: `reason`/`path` must be strings")
        line = lines[index] if index < len(lines) else 1
        entries.append(AllowEntry(tuple(rules), symbol, reason, path, line))
    return tuple(entries)


def load_config(pyproject: Path | None, *, root: Path | None = None) -> Config:
    """Read ``[tool.bastion.check]`` from ``pyproject`` (defaults if it has none).

    Raises :class:`ConfigError` for unreadable TOML, unknown keys or wrong types.
    """
    if pyproject is None:
        return Config(root=(root or Path.cwd()).resolve())
    where = str(pyproject)
    try:
        text = pyproject.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read configuration: {exc}") from exc
    section = data.get("tool", {}).get("bastion", {}).get("check", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: [tool.bastion.check] must be a table")
    unknown = set(section) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown [tool.bastion.check] keys: {sorted(unknown)}")
    baseline, jobs = section.get("baseline"), section.get("jobs", 0)
    if baseline is not None and not isinstance(baseline, str):
        raise ConfigError(f"{where}: `baseline` must be a path string")
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 0:
        raise ConfigError(f"{where}: `jobs` must be a non-negative integer")
    virtual = section.get("virtual-time-tests", False)
    all_files = section.get("flake8-all-files", False)
    if not isinstance(virtual, bool) or not isinstance(all_files, bool):
        raise ConfigError(
            f"{where}: `virtual-time-tests` and `flake8-all-files` must be true or false"
        )
    return Config(
        root=(root or pyproject.parent).resolve(),
        source=pyproject,
        select=_strings(section, "select", where) or (),
        ignore=_strings(section, "ignore", where) or (),
        test_files=_strings(section, "test-files", where) or DEFAULT_TEST_FILES,
        exclude=(*DEFAULT_EXCLUDE, *(_strings(section, "exclude", where) or ())),
        allow=_allow(section.get("allow", []), where, _entry_lines(text)),
        baseline=baseline,
        jobs=jobs,
        virtual_time_tests=virtual,
        flake8_all_files=all_files,
    )


def selected(
    codes: Iterable[tuple[str, str]], select: Iterable[str], ignore: Iterable[str]
) -> set[str]:
    """Codes enabled by ``select``/``ignore`` (codes, code prefixes or rule names).

    Raises :class:`ConfigError` for a pattern that matches no rule (a typo such as
    ``BAS2O1`` must not turn a CI gate into a silent pass).
    """
    codes = tuple(codes)
    select, ignore = tuple(select), tuple(ignore)
    for option, patterns in (("select", select), ("ignore", ignore)):
        unknown = [p for p in patterns if not any(c.startswith(p) or p == n for c, n in codes)]
        if unknown:
            raise ConfigError(
                f"{option}: unknown rule code or name {', '.join(map(repr, unknown))} "
                "(see `bastion check --list-rules`)"
            )

    def matches(code: str, name: str, patterns: tuple[str, ...]) -> bool:
        return any(code.startswith(p) or p == name for p in patterns)

    return {
        code
        for code, name in codes
        if (not select or matches(code, name, select)) and not matches(code, name, ignore)
    }
