"""The flake8 plugin: same rules, flake8 owns noqa, config and allowlist still apply."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from bastion.checks._flake8 import Plugin
from tests.checks.conftest import Write

SOURCE = """\
import asyncio
import bastion

async def go(c):
    asyncio.create_task(c)
    asyncio.ensure_future(c)  # noqa: BAS201 -- demo: flake8 honours a justified noqa
    asyncio.ensure_future(c)  # noqa: BAS201
"""


def _run(path: Path) -> list[tuple[int, int, str]]:
    text = path.read_text()
    plugin = Plugin(ast.parse(text), str(path), text.splitlines(keepends=True))
    return [(line, col, message) for line, col, message, _ in plugin.run()]


def test_plugin_yields_every_finding_and_audits_noqa_reasons(write: Write) -> None:
    found = _run(write("app/mod.py", SOURCE))
    codes = [(line, message.split()[0]) for line, _, message in found]
    # flake8 itself drops lines 6 and 7 (their noqa names BAS201); the plugin adds BAS901.
    assert codes == [(5, "BAS201"), (6, "BAS201"), (7, "BAS201"), (7, "BAS901")]
    assert found[0][1] == 4  # flake8 columns are 0-based
    assert found[0][2].startswith("BAS201 unsupervised-spawn ")


def test_plugin_reads_the_allowlist_from_pyproject(write: Write) -> None:
    write(
        "pyproject.toml",
        '[tool.bastion.check]\n[[tool.bastion.check.allow]]\nrules = ["BAS201"]\n'
        'symbol = "app.mod.go"\nreason = "demo: this coroutine owns its tasks"\n',
    )
    write("app/__init__.py", "")
    codes = [message.split()[0] for _, _, message in _run(write("app/mod.py", SOURCE))]
    assert codes == ["BAS901"]


def test_real_flake8_run_honours_noqa_with_a_reason(write: Write, project: Path) -> None:
    path = write("app/mod.py", SOURCE)
    write(
        "setup.cfg",
        "[flake8]\nselect = BAS\n",  # the plugin comes from our installed entry point
    )
    done = subprocess.run(
        [sys.executable, "-m", "flake8", str(path.relative_to(project))],
        capture_output=True, text=True, timeout=120, check=False, cwd=project,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stderr
    assert [line.split(" ")[1] for line in lines] == ["BAS201", "BAS901"]
    assert lines[0].startswith("app/mod.py:5:5: BAS201 unsupervised-spawn")
    assert lines[1].startswith("app/mod.py:7:")


def test_the_plugin_is_registered_under_the_bas_prefix() -> None:
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    entry_points = tomllib.loads(pyproject.read_text())["project"]["entry-points"]
    assert entry_points["flake8.extension"] == {"BAS": "bastion.checks._flake8:Plugin"}
