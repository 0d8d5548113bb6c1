"""``bastion loadtest``: exit statuses, one-line errors, JSON and HTML output, --demo."""

from __future__ import annotations

import json
import re
import signal
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bastion.cli._loadtest import EXIT_ERROR, EXIT_FAILED, EXIT_USAGE, loadtest_command
from tests.cli._process import demo_stderr_line, start_bastion

SCENARIOS = textwrap.dedent(
    """
    import asyncio

    from bastion import loadtest as lt


    async def fast(user):
        await asyncio.sleep(0.001)


    async def slow(user):
        await asyncio.sleep(0.05)


    shop = lt.LoadTest([lt.Scenario("fast", fast, 3), lt.Scenario("slow", slow, 1)])
    only_fast = lt.Scenario("fast", fast)
    """
)


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios.py"
    path.write_text(SCENARIOS, encoding="utf-8")
    return path


def separate_stderr_runner() -> CliRunner:
    """A runner whose ``result.stderr`` is its own stream on every supported click: before
    8.2 it is mixed into the output unless ``mix_stderr=False`` (gone in 8.2)."""
    options: dict[str, Any] = {"mix_stderr": False}
    try:
        return CliRunner(**options)
    except TypeError:  # click >= 8.2: stderr is always separate
        return CliRunner()


def invoke(*args: str) -> Result:
    return separate_stderr_runner().invoke(loadtest_command, list(args), catch_exceptions=False)


def one_error_line(result: Result) -> str:
    assert "Traceback" not in result.stderr
    lines = [n for n in result.stderr.strip().splitlines() if not n.startswith("progress:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bastion loadtest: ")
    return lines[0]


def test_a_passing_run_exits_0_and_prints_json(scenarios: Path) -> None:
    result = invoke(f"{scenarios}:shop", "--rate", "100", "--duration", "0.5", "--cooldown",
                    "1", "--threshold", "error_rate < 1%", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["passed"] is True
    assert data["latency_unit"] == "ms"
    assert {s["name"] for s in data["scenarios"]} == {"fast", "slow"}


def test_a_failed_threshold_exits_1_and_says_which(scenarios: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = invoke(f"{scenarios}:shop", "--users", "4", "--duration", "0.5",
                    "--threshold", "p99 < 1ms", "--html", str(report))  # fmt: skip
    assert result.exit_code == EXIT_FAILED
    line = one_error_line(result)
    assert line.startswith("bastion loadtest: threshold failed: p99 < 1ms (p99 = ")
    assert line.endswith(" ms)")
    assert "p99 ms" in result.stdout  # the summary table, units in the header
    assert "<svg" in report.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["{file}", "--users", "1", "--threshold", "p99 50ms"], "bad threshold 'p99 50ms'"),
        (["{file}", "--users", "1", "--threshold", "p98 < 5ms"], "unknown metric 'p98'"),
        (["{dir}/missing.py", "--users", "1"], "no scenario file"),
        (
            ["{file}:checkout", "--users", "1"],
            "has no 'checkout'; it defines: ['only_fast', 'shop']",
        ),
        (["{file}", "--rate", "-5"], "--rate must be a finite number > 0"),
        (["{file}", "--rate", "abc"], "'abc' is not a valid float"),
        (["{file}", "--users", "0"], "--users must be within 1..1000000"),
        (["{file}"], "give --users N (closed model) or --rate N per second"),
        (["{file}", "--users", "2", "--rate", "5"], "not both"),
        (["{file}", "--users", "2", "--duration", "0"], "--duration must be"),
        (["{file}", "--users", "2", "--chaos"], "declares no chaos"),
        (["--users", "2"], "give a scenario file"),
        (["{file}", "--users", "2", "--workers", "0"], "--workers must be within 1..256"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    scenarios: Path, args: list[str], says: str
) -> None:
    filled = [a.format(file=f"{scenarios}:shop" if a == "{file}" else scenarios,
                       dir=scenarios.parent) for a in args]  # fmt: skip
    filled = [f.replace(":shop:checkout", ":checkout") for f in filled]
    result = invoke(*filled)
    assert result.exit_code == EXIT_USAGE, (result.stdout, result.stderr)
    assert says in one_error_line(result)


def test_a_file_that_fails_to_import_is_exit_3(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n", encoding="utf-8")
    result = invoke(str(broken), "--users", "1")
    assert result.exit_code == EXIT_ERROR
    assert "cannot import" in one_error_line(result)
    assert "ModuleNotFoundError" in result.stderr


def test_a_file_with_several_load_tests_needs_a_name(tmp_path: Path) -> None:
    two = tmp_path / "two.py"
    two.write_text(SCENARIOS + "\nother = lt.LoadTest([only_fast])\n", encoding="utf-8")
    result = invoke(str(two), "--users", "1")
    assert result.exit_code == EXIT_USAGE
    assert "several load tests, name one: ['other', 'shop']" in one_error_line(result)


def test_demo_with_chaos_loses_nothing() -> None:
    result = invoke("--demo", "--rate", "40", "--duration", "2", "--cooldown", "2",
                    "--chaos", "--seed", "3", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    summary = data["chaos_summary"]
    assert summary["accepted"] > 0
    assert summary["lost"] == 0
    assert summary["faults"]["kill"] > 0
    assert {e["kind"] for e in data["chaos"]} >= {"kill"}


def test_ctrl_c_exits_130_and_says_nothing_is_left(scenarios: Path) -> None:
    proc = start_bastion("loadtest", f"{scenarios}:shop", "--users", "4", "--duration", "600")
    try:
        demo_stderr_line(proc, lambda line: line.startswith("progress:"), "progress")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "bastion loadtest: interrupted: nothing is left running" in stderr
    assert "Traceback" not in stderr


def test_the_cli_page_documents_every_exit_status_of_bastion_loadtest() -> None:
    from bastion.cli._loadtest import EXIT_INTERRUPTED

    page = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    section = page[page.index("## `bastion loadtest`") :]
    rows = {int(m[1]): m[2] for m in re.finditer(r"^\| \*\*(\d+)\*\* \| (.*)$", section, re.M)}
    assert set(rows) == {0, EXIT_FAILED, EXIT_USAGE, EXIT_ERROR, EXIT_INTERRUPTED}
    assert "threshold failed" in rows[EXIT_FAILED]
    assert "bad threshold" in rows[EXIT_USAGE]
    assert "could not run" in rows[EXIT_ERROR]
