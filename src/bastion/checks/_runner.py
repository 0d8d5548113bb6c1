"""A whole run: discover files, check them in parallel, apply allowlist and baseline."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from bastion.checks._baseline import Baseline
from bastion.checks._config import Config, ConfigError, selected
from bastion.checks._file import check_file, relative, resolved_path
from bastion.checks._model import Finding, Rule, Suppression
from bastion.checks._registry import all_rules
from bastion.checks._suppress import reason_problem

__all__ = ["Report", "check_paths", "discover"]

_PARALLEL_MIN_FILES = 16
_WORKER: tuple[Config, list[type[Rule]], set[str]] | None = None


@dataclass(slots=True)
class Report:
    """The outcome of a run: every finding (suppressed ones marked), files and lines."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    enabled: set[str] = field(default_factory=set)

    @property
    def active(self) -> list[Finding]:
        """Findings that count: not suppressed inline, by the allowlist or the baseline."""
        return [f for f in self.findings if f.suppression is None]


def discover(paths: Iterable[str | Path], config: Config) -> list[Path]:
    """Python files under ``paths``; directories honour ``exclude``, files never do."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(_walk(path, config))
        elif path.is_file() or path.is_symlink():  # a dangling link is reported, not skipped
            found.append(path)
        elif path.exists():
            raise ConfigError(f"{raw}: not a regular file or directory")
        else:
            raise ConfigError(f"{raw}: no such file or directory")
    return sorted(dict.fromkeys(found))


def _walk(top: Path, config: Config) -> Iterable[Path]:
    def unreadable(error: OSError) -> None:
        raise ConfigError(f"{error.filename}: cannot list directory: {error.strerror}")

    for folder, dirs, files in os.walk(top, onerror=unreadable):
        base = Path(folder)
        dirs[:] = sorted(d for d in dirs if not config.is_excluded(relative(base / d, config.root)))
        for name in sorted(files):
            if name.endswith((".py", ".pyi")):
                path = base / name
                if not config.is_excluded(relative(path, config.root)):
                    yield path


def _shown(path: Path) -> str:
    try:
        return resolved_path(path).relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _init_worker(config: Config, codes: list[str]) -> None:
    global _WORKER
    rules = all_rules()
    _WORKER = (config, [rules[c] for c in codes], set(rules))


def _work(path: str) -> tuple[list[Finding], int, str]:
    assert _WORKER is not None
    config, rules, known = _WORKER
    return check_file(Path(path), _shown(Path(path)), config, rules, known)


def _run_files(
    files: Sequence[Path], config: Config, codes: list[str], jobs: int
) -> list[tuple[list[Finding], int, str]]:
    if jobs <= 1 or len(files) < _PARALLEL_MIN_FILES:
        _init_worker(config, codes)
        return [_work(str(p)) for p in files]
    chunk = max(1, len(files) // (jobs * 4))
    # The pool lives inside this with-block: every worker is joined before we return.
    with ProcessPoolExecutor(
        max_workers=jobs, initializer=_init_worker, initargs=(config, codes)
    ) as pool:
        return list(pool.map(_work, [str(p) for p in files], chunksize=chunk))


def check_paths(
    paths: Iterable[str | Path],
    config: Config | None = None,
    *,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    baseline: Baseline | None = None,
    jobs: int | None = None,
) -> Report:
    """Check every Python file under ``paths`` and return the :class:`Report`.

    ``select``/``ignore`` (codes, prefixes or names) narrow the configured rules;
    ``jobs`` is the number of worker processes (default: the config's, else all CPUs).
    """
    config = config or Config()
    rules = all_rules()
    enabled = selected(
        ((c, r.name) for c, r in rules.items()), select or config.select, (*config.ignore, *ignore)
    )
    files = discover(paths, config)
    workers = jobs or config.jobs or os.cpu_count() or 1
    report = Report(enabled=enabled)
    modules: set[str] = set()
    for findings, lines, module in _run_files(files, config, sorted(enabled), workers):
        report.findings.extend(f for f in findings if f.code in enabled or f.code == "BAS000")
        report.lines += lines
        modules.add(module)
    report.files = len(files)
    report.findings = _apply_allowlist(report.findings, config, enabled, modules)
    if baseline is not None:
        report.findings = baseline.apply(report.findings)
    report.findings.sort(key=Finding.sort_key)
    return report


def _apply_allowlist(
    findings: list[Finding], config: Config, enabled: set[str], modules: set[str]
) -> list[Finding]:
    source = _shown(config.source) if config.source else "pyproject.toml"
    rules = all_rules()
    valid = []
    audit: list[Finding] = []
    for entry in config.allow:
        problem = reason_problem(entry.reason)
        if problem is None:
            valid.append(entry)
        elif "BAS903" in enabled:
            audit.append(
                Finding(
                    source,
                    entry.line,
                    1,
                    "BAS903",
                    rules["BAS903"].name,
                    f"allowlist entry for `{entry.symbol}` has no reason: {problem}",
                )
            )
    used: set[int] = set()
    result = []
    for finding in findings:
        entry_index = _covering(finding, valid, config)
        if (
            finding.suppression is None
            and entry_index is not None
            and not finding.code.startswith("BAS9")
        ):
            used.add(entry_index)
            finding = replace(
                finding, suppression=Suppression("allowlist", valid[entry_index].reason)
            )
        result.append(finding)
    for index, entry in enumerate(valid):
        relevant = any(entry.covers_symbol(m) or entry.symbol.startswith(m + ".") for m in modules)
        rule_on = any(c.startswith(r) or rules[c].name == r for c in enabled for r in entry.rules)
        if index not in used and relevant and rule_on and "BAS904" in enabled:
            audit.append(
                Finding(
                    source,
                    entry.line,
                    1,
                    "BAS904",
                    rules["BAS904"].name,
                    f"allowlist entry for `{entry.symbol}` ({', '.join(entry.rules)}) "
                    "suppresses nothing: remove it",
                )
            )
    return result + audit


def _covering(finding: Finding, entries: list, config: Config) -> int | None:  # type: ignore[type-arg]
    relpath = relative(Path(finding.path), config.root)
    for index, entry in enumerate(entries):
        if entry.covers(finding.code, finding.rule, finding.symbol, relpath):
            return index
    return None
