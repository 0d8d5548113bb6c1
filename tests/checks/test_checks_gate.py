"""The checker as a CI gate: machine-readable summaries, SARIF metadata, flake8 scope."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.checks import main
from bastion.checks._flake8 import Plugin
from tests.checks.conftest import Write

ASYNCIO_ONLY = "import asyncio\n\n\nasync def go(c):\n    asyncio.create_task(c)\n"
WITH_BASTION = "import asyncio\nimport bastion\n\n\nasync def go(c):\n    asyncio.create_task(c)\n"


def test_json_has_findings_and_a_summary(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    write("pkg/bad.py", ASYNCIO_ONLY + "    asyncio.create_task(c)  # noqa: BAS201 -- owned here\n")
    write("pkg/ok.py", "x = 1\n")
    assert main(["pkg", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in report["findings"]] == ["BAS201"]
    summary = report["summary"]
    assert summary["findings"] == 1
    assert summary["by_rule"] == {"unsupervised-spawn": 1}
    assert summary["suppressed"] == {"inline": 1}
    assert (summary["files"], summary["passed"]) == (2, False)
    assert summary["version"]


def test_sarif_names_the_tool_version_help_and_a_successful_run(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pkg/bad.py", ASYNCIO_ONLY)
    assert main(["pkg", "--format", "sarif"]) == 1
    run = json.loads(capsys.readouterr().out)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["version"]
    assert driver["informationUri"].startswith("https://")
    rule = next(r for r in driver["rules"] if r["id"] == "BAS201")
    assert rule["helpUri"].startswith("https://")
    assert rule["helpUri"].endswith("#bas201-unsupervised-spawn")
    assert run["invocations"] == [{"executionSuccessful": True}]


def _plugin(path: Path) -> list[str]:
    text = path.read_text()
    plugin = Plugin(ast.parse(text), str(path), text.splitlines(keepends=True))
    return [message.split()[0] for _, _, message, _ in plugin.run()]


def test_flake8_plugin_reports_only_in_files_that_import_bastion(write: Write) -> None:
    assert _plugin(write("app/plain.py", ASYNCIO_ONLY)) == []
    assert _plugin(write("app/ours.py", WITH_BASTION)) == ["BAS201"]


def test_flake8_plugin_can_be_told_to_check_every_file(write: Write) -> None:
    write("pyproject.toml", "[tool.bastion.check]\nflake8-all-files = true\n")
    assert _plugin(write("app/plain.py", ASYNCIO_ONLY)) == ["BAS201"]


def test_flake8_plugin_reports_a_broken_configuration_instead_of_passing(write: Write) -> None:
    write("pyproject.toml", '[tool.bastion.check]\nselect = ["BAS2O1"]\n')
    [message] = [m for _, _, m, _ in Plugin(ast.parse(WITH_BASTION), "app/x.py").run()]
    assert message.startswith("BAS000 config-error bastion configuration: select: unknown rule")


def _flake8(project: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "BAS,E9", *paths],
        capture_output=True, text=True, timeout=120, check=False, cwd=project,
    )  # fmt: skip


def test_flake8_on_bad_input_gives_one_line_per_file_and_no_traceback(
    write: Write, project: Path
) -> None:
    write("bin.py", "").write_bytes(b"\x00\x01binary")
    write("syn.py", "import bastion\ndef f(:\n")
    write("lat.py", "").write_bytes(b'import bastion\nname = "caf\xe9"\n')
    write("bom.py", "").write_bytes(b"\xef\xbb\xbf" + WITH_BASTION.encode())
    (project / "loop.py").symlink_to("loop2.py")
    (project / "loop2.py").symlink_to("loop.py")
    done = _flake8(project, "bin.py", "syn.py", "lat.py", "bom.py", "loop.py", "missing.py")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    found = sorted((line.split(":")[0], line.split()[1]) for line in done.stdout.splitlines())
    assert found == [
        ("bin.py", "E999"),
        ("bom.py", "BAS201"),
        ("loop.py", "E902"),
        ("missing.py", "E902"),
        ("syn.py", "E999"),
    ]
