"""Child processes whose output lines the tests wait for, with a deadline.

``tests._child.read_until`` selects on a text pipe whose reader may already hold the
next lines in its buffer, so a child that prints a last line and then stays quiet can
go unseen; this reader keeps its own buffer of raw bytes and never waits while a
complete line is in it.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path


class Child:
    """A child process running a script with this interpreter, its stdout read by line."""

    def __init__(self, script: Path, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script), *args],
            stdout=subprocess.PIPE,
            bufsize=0,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._pending = b""
        self.lines: list[str] = []  # every line read so far

    def _next_line(self, deadline: float) -> str | None:
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                return None
            chunk = os.read(self._fd, 65536)
            if not chunk:
                return None
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        text = line.decode().strip()
        self.lines.append(text)
        return text

    def read_until(self, prefix: str, deadline: float) -> list[str]:
        """Read lines until one starts with ``prefix``; AssertionError at the deadline."""
        seen: list[str] = []
        while (line := self._next_line(deadline)) is not None:
            seen.append(line)
            if line.startswith(prefix):
                return seen
        raise AssertionError(f"child never printed {prefix!r}; got {seen[-5:]}")

    def read_rest(self, deadline: float) -> list[str]:
        """The lines until the child closes its output (it is exiting)."""
        seen: list[str] = []
        while (line := self._next_line(deadline)) is not None:
            seen.append(line)
        return seen

    def close(self, timeout: float) -> None:
        """Kill the child if it still runs, reap it, close the pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
