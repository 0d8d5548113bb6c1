"""The documented exit statuses and the pre-commit hook match what the commands do."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from bastion.cli._demo import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_INTERRUPTED

ROOT = Path(__file__).resolve().parents[2]


def _status_rows() -> dict[int, str]:
    text = (ROOT / "docs" / "cli.md").read_text()
    return {int(m[1]): m[2] for m in re.finditer(r"^\| (\d+) \| (.*)$", text, re.MULTILINE)}


def test_cli_page_documents_every_exit_status_and_is_linked() -> None:
    rows = _status_rows()
    assert {0, 2, EXIT_INCOMPLETE, EXIT_ERROR, EXIT_INTERRUPTED} <= set(rows)
    assert "--db" in rows[EXIT_ERROR]
    assert "--timeout" in rows[EXIT_INCOMPLETE]
    assert "(cli.md)" in (ROOT / "docs" / "index.md").read_text()


def test_the_pre_commit_hook_runs_the_checker(tmp_path: Path) -> None:
    hook = (ROOT / ".pre-commit-hooks.yaml").read_text()
    fields = dict(re.findall(r"^\s*-?\s*(id|entry|language): (.+)$", hook, re.MULTILINE))
    assert fields == {"id": "bastion-check", "entry": "bastion check", "language": "python"}
    (tmp_path / "ok.py").write_text("x = 1\n")
    command = shlex.split(fields["entry"])
    assert command[0] == "bastion"
    done = subprocess.run(
        [sys.executable, "-m", "bastion", *command[1:], "ok.py"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
