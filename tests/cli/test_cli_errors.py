"""``bastion demo`` on bad input, a timeout, and without the optional ``rich``: one clear
line and a documented exit status, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bastion.cli._demo import EXIT_ERROR, EXIT_INCOMPLETE
from bastion.cli._display import RICH_HINT, PlainDisplay, summary_rows
from bastion.demo import DemoSummary
from tests.cli._process import SRC

# Makes `import rich` fail in the child, as in an install without the `cli` extra.
NO_RICH = "import sys; sys.modules['rich'] = None; "


def _bastion(*args: str, cwd: Path, block_rich: bool = False) -> subprocess.CompletedProcess[str]:
    prelude = NO_RICH if block_rich else ""
    code = f"{prelude}import sys; sys.argv = ['bastion', *sys.argv[1:]]; "
    code += "from bastion.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": SRC},
        check=False,
    )


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("db", "content", "says"),
    [
        ("missing/dir/x.db", None, "cannot use --db missing/dir/x.db: "),
        ("notes.txt", b"my notes, not a database\n" * 40, "cannot use --db notes.txt: "),
        ("garbage.bin", bytes(range(256)) * 40, "cannot use --db garbage.bin: "),
    ],
)
def test_an_unusable_db_is_one_line_and_exit_3(
    tmp_path: Path, db: str, content: bytes | None, says: str
) -> None:
    if content is not None:
        (tmp_path / db).write_bytes(content)
    done = _bastion("demo", "--tasks", "3", "--db", db, cwd=tmp_path)
    assert done.returncode == EXIT_ERROR == 3
    assert _one_error_line(done).startswith(f"bastion demo: error: {says}")
    assert done.stdout == ""
    if content is not None:
        assert (tmp_path / db).read_bytes() == content  # nothing written into it


def test_a_timed_out_demo_says_why_and_exits_1(tmp_path: Path) -> None:
    done = _bastion(
        "demo", "--json", "--tasks", "400", "--io-ms", "200", "--chaos", "0",
        "--timeout", "1", "--db", "slow.db", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == EXIT_INCOMPLETE == 1
    summary = json.loads(done.stdout)
    assert summary["timed_out"] is True
    assert summary["unfinished"] > 0
    assert summary["lost"] == 0
    line = _one_error_line(done)
    assert line.startswith("bastion demo: timed out after --timeout 1 s with ")
    assert "run again with --db slow.db" in line


def test_the_demo_runs_without_rich_in_plain_text(tmp_path: Path) -> None:
    done = _bastion(
        "demo", "--tasks", "20", "--io-ms", "1", "--db", "plain.db", cwd=tmp_path, block_rich=True
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "bastion demo — plain.db"
    assert any(line.split() == ["accepted", "20"] for line in lines)
    assert any(line.split()[:4] == ["lost", "(must", "be", "0)"] for line in lines)
    assert not any(ch in done.stdout for ch in "┌│└")  # no rich box drawing


def test_with_rich_the_summary_is_a_table(tmp_path: Path) -> None:
    pytest.importorskip("rich")
    done = _bastion("demo", "--tasks", "20", "--io-ms", "1", "--db", "rich.db", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "│ accepted" in done.stdout


def _summary() -> DemoSummary:
    return DemoSummary(
        accepted=3, completed=2, failed=1, failed_reasons={"parse: ValidationError": 1},
        retried=4, reassigned=0, restarts=2, chaos_kills=2, health_alerts={}, health_samples=5,
        unfinished=0, lost=0, resumed=0, seconds=1.5, db="x.db",
    )  # fmt: skip


def test_plain_display_prints_every_row_aligned(tmp_path: Path) -> None:
    out_path, err_path = tmp_path / "out.txt", tmp_path / "err.txt"
    with out_path.open("w") as out, err_path.open("w") as err:
        display = PlainDisplay(quiet=False, out=out, err=err)
        with display.running():  # not a terminal: no hint about the extra
            display.summary(_summary())
    lines = out_path.read_text().splitlines()
    assert len(lines) == 1 + len(summary_rows(_summary()))
    assert lines[1].split() == ["accepted", "3"]
    assert len({len(line) for line in lines[1:]}) == 1
    assert RICH_HINT not in err_path.read_text()
