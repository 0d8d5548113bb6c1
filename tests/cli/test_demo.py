"""``bastion demo``: the main job accounts for every document, even across kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bastion.cli._demo import demo_command
from bastion.demo._pipeline import _reason
from tests.cli._process import SRC, demo_stderr_line, start_bastion


def _run_demo(*args: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [sys.executable, "-m", "bastion", "demo", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": SRC},
        check=False,
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_demo_completes_every_document_and_loses_none(tmp_path: Path) -> None:
    code, summary = _run_demo(
        "--tasks", "60", "--io-ms", "1", "--chaos", "0.1", "--db", str(tmp_path / "d.db")
    )
    assert code == 0
    assert summary["accepted"] == 60
    assert summary["lost"] == 0
    assert summary["unfinished"] == 0
    assert summary["completed"] + summary["failed"] == 60
    assert summary["failed"] == sum(summary["failed_reasons"].values())
    assert summary["completed"] > 0


def _is_progress(line: str) -> bool:
    return line.startswith("progress:") and not line.startswith("progress: 0/")


def test_kill_minus_nine_then_rerun_with_the_same_db_finishes_the_work(tmp_path: Path) -> None:
    db = str(tmp_path / "resume.db")
    args = ["demo", "--tasks", "300", "--io-ms", "4", "--chaos", "0.05", "--db", db]
    with start_bastion(*args) as proc:
        try:
            demo_stderr_line(proc, _is_progress, "progress")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    code, summary = _run_demo("--tasks", "300", "--io-ms", "1", "--db", db)
    assert code == 0
    assert summary["lost"] == 0
    assert summary["unfinished"] == 0
    assert summary["resumed"] > 0
    assert summary["completed"] + summary["failed"] == 300


@pytest.mark.parametrize(
    ("option", "value"),
    [("--tasks", "0"), ("--workers", "0"), ("--chaos", "1.5"), ("--io-ms", "-1")],
)
def test_invalid_options_are_clear_usage_errors(option: str, value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(demo_command, [option, value, "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert option.lstrip("-").split("-")[0] in result.output
    assert not (tmp_path / "x.db").exists()


def test_failure_reasons_are_summarised_by_step_and_error_class() -> None:
    error = "step 'parse': ValidationError: document 7 is malformed"
    assert _reason(error) == "parse: ValidationError"
    assert _reason(None) == "unknown"
    assert _reason("odd") == "odd"
