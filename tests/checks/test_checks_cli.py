"""The command line: exit statuses, output formats, --explain, --sleeps, baselines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.checks import main
from tests.checks.conftest import Write

BAD = "import asyncio\n\nasync def go(c):\n    asyncio.create_task(c)\n"
CLEAN = "def add(a, b):\n    return a + b\n"


def test_clean_tree_exits_0_and_says_passed(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pkg/ok.py", CLEAN)
    assert main(["pkg"]) == 0
    out = capsys.readouterr().out
    assert "Checking raw-send" in out
    assert "... PASSED" in out
    assert out.rstrip().endswith("PASSED")


def test_findings_exit_1_with_path_line_col_code_and_name(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pkg/bad.py", BAD)
    assert main(["pkg"]) == 1
    out = capsys.readouterr().out
    assert "pkg/bad.py:4:5 BAS201 unsupervised-spawn `asyncio.create_task`" in out
    assert "Checking unsupervised-spawn" in out
    assert "FAILED (1)" in out


def test_exit_zero_reports_but_succeeds(write: Write) -> None:
    write("pkg/bad.py", BAD)
    assert main(["pkg", "--exit-zero"]) == 0


@pytest.mark.parametrize(
    "argv", [["--no-such-option"], ["missing/dir"], ["--format", "xml"], ["--explain", "BAS999"]]
)
def test_usage_errors_exit_2(project: Path, argv: list[str]) -> None:
    assert main(argv) == 2


def test_bad_configuration_exits_2(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    write("pyproject.toml", "[tool.bastion.check]\nselectt = ['BAS1']\n")
    write("ok.py", CLEAN)
    assert main(["ok.py"]) == 2
    assert "unknown [tool.bastion.check] keys" in capsys.readouterr().err


def test_a_file_that_does_not_parse_is_a_finding(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pkg/broken.py", "def f(:\n")
    write("pkg/ok.py", CLEAN)
    assert main(["pkg"]) == 1
    assert "pkg/broken.py:1:7 BAS000 parse-error cannot parse" in capsys.readouterr().out


def test_json_lists_objects_with_the_documented_keys(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pkg/bad.py", BAD)
    assert main(["pkg", "--format", "json"]) == 1
    [item] = json.loads(capsys.readouterr().out)["findings"]
    assert {"path", "line", "col", "code", "rule", "message"} <= set(item)
    assert (item["path"], item["line"], item["col"]) == ("pkg/bad.py", 4, 5)
    assert (item["code"], item["rule"]) == ("BAS201", "unsupervised-spawn")


def test_sarif_has_rules_results_and_justified_suppressions(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        "pkg/bad.py",
        BAD + "    asyncio.create_task(c)  # noqa: BAS201 -- demo of a justified one\n",
    )
    assert main(["pkg", "--format", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    assert "BAS201" in {r["id"] for r in run["tool"]["driver"]["rules"]}
    results = run["results"]
    assert len(results) == 2
    region = results[0]["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 4
    [suppressed] = [r for r in results if "suppressions" in r]
    assert suppressed["suppressions"][0]["kind"] == "inSource"
    assert "demo of a justified one" in suppressed["suppressions"][0]["justification"]


def test_github_annotations(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    write("pkg/bad.py", BAD)
    assert main(["pkg", "--format", "github"]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("::error file=pkg/bad.py,line=4,col=5,")
    assert "title=BAS201 unsupervised-spawn::" in first


def test_explain_by_code_and_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--explain", "BAS101"]) == 0
    assert "bastion.lowlevel.send" in capsys.readouterr().out
    assert main(["--explain", "catch-all"]) == 0
    out = capsys.readouterr().out
    assert "BAS701" in out
    assert "BAS702" in out
    assert "BAS703" in out


def test_select_and_ignore_by_name_code_or_prefix(write: Write) -> None:
    write("pkg/bad.py", BAD)
    assert main(["pkg", "--ignore", "unsupervised-spawn"]) == 0
    assert main(["pkg", "--select", "BAS1"]) == 0
    assert main(["pkg", "--select", "BAS201"]) == 1


def test_baseline_accepts_recorded_debt_but_not_new_findings(
    write: Write, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write("pkg/bad.py", BAD)
    assert main(["pkg", "--write-baseline", "baseline.json"]) == 0
    assert main(["pkg", "--baseline", "baseline.json"]) == 0
    assert "1 baseline" in capsys.readouterr().out
    write("pkg/bad.py", BAD + "    asyncio.ensure_future(c)\n")
    assert main(["pkg", "--baseline", "baseline.json"]) == 1
    assert "ensure_future" in capsys.readouterr().out.splitlines()[0]


def test_sleeps_lists_every_sleep_with_a_suggestion(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        "tests/test_x.py",
        "import time\n\nasync def test_a(x):\n    time.sleep(1)\n    assert x.done\n",
    )
    assert main(["--sleeps", "tests"]) == 0
    out = capsys.readouterr().out
    assert "tests/test_x.py:4:5 time.sleep(1)" in out
    assert "await bastion.testing.wait_for(lambda: x.done" in out


def test_a_sync_test_is_never_told_to_await(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        "tests/test_x.py", "import time\n\ndef test_a(x):\n    time.sleep(1)\n    assert x.done\n"
    )
    assert main(["--sleeps", "tests"]) == 0
    out = capsys.readouterr().out
    assert "tests/test_x.py:4:5 time.sleep(1)" in out
    assert "await" not in out
    assert "wait until `x.done` holds" in out
    assert "make the test `async def`" in out


def test_parallel_run_matches_sequential(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    for index in range(40):
        write(f"pkg/m{index}.py", BAD if index % 3 == 0 else CLEAN)
    assert main(["pkg", "--format", "json", "--jobs", "1"]) == 1
    sequential = json.loads(capsys.readouterr().out)["findings"]
    assert main(["pkg", "--format", "json", "--jobs", "2"]) == 1
    assert json.loads(capsys.readouterr().out)["findings"] == sequential
    assert len(sequential) == 14


@pytest.mark.parametrize("command", [["-m", "bastion.checks"], ["-m", "bastion", "check"]])
def test_module_entry_points(write: Write, command: list[str]) -> None:
    write("pkg/bad.py", BAD)
    done = subprocess.run(
        [sys.executable, *command, "pkg", "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["findings"][0]["rule"] == "unsupervised-spawn"
