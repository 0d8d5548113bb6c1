"""Reading the annotated fixture corpus (flake8-async eval-file style).

Each ``corpus/*.py`` file starts with header comments: ``# rules: BAS1, BAS9`` (code
prefixes to run), optionally ``# module: pkg.mod`` and ``# test-file``. A line that
must produce findings ends with ``# error: CODE[, CODE]``; every other line must
produce none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bastion.checks import Finding, all_rules, check_source

CORPUS = Path(__file__).parent / "corpus"
_ERROR = re.compile(r"#\s*error:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)\s*$")


@dataclass(frozen=True)
class Case:
    path: Path
    prefixes: tuple[str, ...]
    module: str
    is_test: bool
    expected: list[tuple[int, str]]


def load(path: Path) -> Case:
    text = path.read_text()
    prefixes: tuple[str, ...] = ()
    module = path.stem
    is_test = False
    expected: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# rules:"):
            prefixes = tuple(p.strip() for p in line.split(":", 1)[1].split(","))
        elif line.startswith("# module:"):
            module = line.split(":", 1)[1].strip()
        elif line.strip() == "# test-file":
            is_test = True
        match = _ERROR.search(line)
        if match:
            expected.extend((number, c.strip()) for c in match["codes"].split(","))
    assert prefixes, f"{path.name}: missing '# rules:' header"
    return Case(path, prefixes, module, is_test, sorted(expected))


def run(case: Case) -> list[Finding]:
    rules = [r for c, r in all_rules().items() if c.startswith(case.prefixes)]
    findings, _ = check_source(
        case.path.read_text(), case.path.name, rules, module=case.module,
        is_test=case.is_test, known=set(all_rules()),
    )  # fmt: skip
    return [f for f in findings if f.suppression is None]


def cases() -> list[Path]:
    return sorted(CORPUS.glob("*.py"))
