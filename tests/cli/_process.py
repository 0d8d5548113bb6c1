"""Running ``python -m bastion`` in a child process and reading its stderr as it goes."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def start_bastion(*args: str) -> subprocess.Popen[str]:
    """``python -m bastion *args`` on this tree's sources; stdout discarded, stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "bastion", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )


def demo_stderr_line(
    proc: subprocess.Popen[str], matches: Callable[[str], bool], what: str, timeout: float = 60.0
) -> str:
    """The first stderr line of the demo in ``proc`` that ``matches``; fails the test when
    no line comes for ``timeout`` seconds or the demo exits before reporting ``what``."""
    assert proc.stderr is not None
    while True:
        ready, _, _ = select.select([proc.stderr], [], [], timeout)
        assert ready, f"the demo did not report {what} within {timeout}s"
        line = proc.stderr.readline()
        assert line, f"the demo exited before reporting {what}"
        if matches(line):
            return line
