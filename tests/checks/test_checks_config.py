"""[tool.bastion.check]: allowlist with reasons, test-file patterns, rule selection."""

from __future__ import annotations

import json

import pytest

from bastion.checks import ConfigError, load_config, main
from tests.checks.conftest import Write

SPAWN = "import asyncio\n\ndef start(c):\n    return asyncio.create_task(c)\n"


def _allow(symbol: str, reason: str, rules: str = '["unsupervised-spawn"]') -> str:
    return (
        "[tool.bastion.check]\n\n[[tool.bastion.check.allow]]\n"
        f'rules = {rules}\nsymbol = "{symbol}"\nreason = "{reason}"\n'
    )


def _findings(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    findings: list[dict[str, object]] = json.loads(capsys.readouterr().out)["findings"]
    return findings


def _codes(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [str(f["code"]) for f in _findings(capsys)]


def test_allowlist_entry_with_reason_suppresses_only_its_symbol(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pyproject.toml", _allow("app.kernel.start", "the kernel owns and joins this task"))
    write("app/__init__.py", "")
    write("app/kernel.py", SPAWN)
    write("app/other.py", SPAWN)
    assert main(["app", "--format", "json"]) == 1
    [finding] = json.loads(capsys.readouterr().out)["findings"]
    assert finding["path"] == "app/other.py"


def test_allowlist_entry_without_reason_is_a_finding_and_not_applied(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pyproject.toml", _allow("app", "ok"))
    write("app/__init__.py", "")
    write("app/kernel.py", SPAWN)
    assert main(["app", "--format", "json"]) == 1
    assert sorted(_codes(capsys)) == ["BAS201", "BAS903"]


def test_unused_allowlist_entry_is_reported_only_when_its_scope_was_checked(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pyproject.toml", _allow("app.kernel", "the kernel owns and joins its tasks"))
    write("app/__init__.py", "")
    write("app/kernel.py", "X = 1\n")
    write("lib/other.py", "Y = 2\n")
    assert main(["app", "--format", "json"]) == 1
    assert _codes(capsys) == ["BAS904"]
    assert main(["lib", "--format", "json"]) == 0


def test_test_file_patterns_decide_where_sleep_in_test_applies(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    sleeper = "import time\n\ndef check():\n    time.sleep(1)\n"
    write("spec/check_a.py", sleeper)
    write("tests/test_b.py", sleeper)
    assert main(["spec", "tests", "--format", "json"]) == 1
    assert [f["path"] for f in _findings(capsys)] == ["tests/test_b.py"]
    write("pyproject.toml", '[tool.bastion.check]\ntest-files = ["spec/**"]\n')
    assert main(["spec", "tests", "--format", "json"]) == 1
    assert [f["path"] for f in _findings(capsys)] == ["spec/check_a.py"]


def test_config_select_ignore_and_exclude(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    write("app/a.py", SPAWN)
    write("app/gen/b.py", SPAWN)
    write("pyproject.toml", '[tool.bastion.check]\nignore = ["BAS2"]\n')
    assert main(["app"]) == 0
    capsys.readouterr()
    write("pyproject.toml", '[tool.bastion.check]\nexclude = ["app/gen"]\n')
    assert main(["app", "--format", "json"]) == 1
    assert [f["path"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["app/a.py"]
    assert main(["app/gen/b.py"]) == 1  # an explicit file is always checked


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("select = 'BAS1'", "must be a list of strings"),
        ("jobs = -1", "non-negative integer"),
        ("[[tool.bastion.check.allow]]\nsymbol = 'x'\nreason = 'because it is'", "needs `rules`"),
        ("[[tool.bastion.check.allow]]\nrules = ['BAS1']\nsymbol = 'x'\nwhy = 'y'", "unknown keys"),
        ("select = [", "cannot read configuration"),
    ],
)
def test_invalid_configuration_raises_config_error(write: Write, body: str, message: str) -> None:
    path = write("pyproject.toml", f"[tool.bastion.check]\n{body}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_virtual_time_tests_reports_awaited_sleeps_as_suppressed_not_failed(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        "tests/test_v.py",
        "import asyncio\nimport time\n\nasync def test_a():\n"
        "    await asyncio.sleep(5)\n    time.sleep(0.1)\n",
    )
    assert main(["tests", "--format", "json"]) == 1
    assert [f["line"] for f in json.loads(capsys.readouterr().out)["findings"]] == [5, 6]
    write("pyproject.toml", "[tool.bastion.check]\nvirtual-time-tests = true\n")
    assert main(["tests", "--format", "json"]) == 1
    assert [f["line"] for f in json.loads(capsys.readouterr().out)["findings"]] == [6]
    assert main(["tests", "--format", "sarif"]) == 1
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    [virtual] = [r for r in results if "suppressions" in r]
    assert "virtual-time-tests" in virtual["suppressions"][0]["justification"]
