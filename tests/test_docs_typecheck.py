"""The documentation's examples type-check: what users copy passes mypy as it is written.

Other tests run these blocks; this one runs mypy over them (strict optional checking,
untyped bodies checked too), so an example that only works because nothing checks it
(an ``Optional`` used without a test, a wrong argument type) fails here. Deliberate
misuse in an example carries a ``# type: ignore[code]`` that says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[1]
PAGES = (
    "README.md",
    "docs/index.md",
    "docs/actors.md",
    "docs/failure-semantics.md",
    "docs/agents.md",
    "docs/persistence.md",
    "docs/resilience.md",
    "docs/observability.md",
    "docs/workflows.md",
)
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _write_examples(into: Path) -> dict[str, str]:
    """Write every python block as its own module; map file name → page:line."""
    where: dict[str, str] = {}
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        for number, match in enumerate(_BLOCK.finditer(text)):
            name = f"{page.replace('/', '_').removesuffix('.md')}_{number}.py".lower()
            (into / name.replace("-", "_")).write_text(match.group(1), encoding="utf-8")
            line = text.count("\n", 0, match.start()) + 2
            where[name.replace("-", "_")] = f"{page}:{line}"
    return where


def test_doc_examples_type_check(tmp_path: Path) -> None:
    where = _write_examples(tmp_path)
    assert len(where) >= 20, "the pages lost their examples"
    config = tmp_path / "mypy.ini"  # not the project's strict settings: examples are scripts
    config.write_text("[mypy]\n", encoding="utf-8")
    stdout, stderr, status = mypy_api.run(
        [
            "--config-file",
            str(config),
            "--no-error-summary",
            "--check-untyped-defs",
            "--ignore-missing-imports",
            "--warn-unused-ignores",
            "--python-version",
            "3.11",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            *sorted(str(tmp_path / name) for name in where),
        ]
    )
    errors = [
        f"{where.get(Path(line.split(':', 1)[0]).name, '?')} (block line {line.split(':')[1]}): "
        f"{line.split(': ', 1)[-1]}"
        for line in stdout.splitlines()
        if ": error:" in line
    ]
    assert status in (0, 1), stderr
    assert errors == [], "\n".join(errors)
