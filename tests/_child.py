"""Child processes for the kill -9 tests: start a node script, read its lines with a deadline."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path


def start_node(script: Path, *args: str) -> subprocess.Popen[str]:
    """Run ``script`` with this interpreter, its stdout unbuffered and piped to us."""
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def read_until(proc: subprocess.Popen[str], until: str, deadline: float) -> list[str]:
    """Read the child's lines until one starts with ``until`` (or fail at the deadline)."""
    assert proc.stdout is not None
    seen: list[str] = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line.strip())
        if line.startswith(until):
            return seen
    proc.kill()
    raise AssertionError(f"child never printed {until!r}; got {seen[-5:]}")
