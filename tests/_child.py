"""Child processes for the kill -9 and node tests: start a node script, read its lines with
a deadline (:func:`read_until`, :func:`read_rest`; :class:`Child` keeps every line read)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def start_node(script: Path, *args: str) -> subprocess.Popen[str]:
    """Run ``script`` with this interpreter, its stdout unbuffered and piped to us."""
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


_PENDING = "_bastion_unread"  # the bytes read from the pipe and not yet returned


def read_until(proc: subprocess.Popen[str], until: str, deadline: float) -> list[str]:
    """Read the child's lines until one starts with ``until`` (or fail at the deadline).

    Reads the pipe's raw bytes into a buffer of our own (kept on the process object between calls)
    and never waits while a complete line is in it: ``readline`` on the text wrapper
    could pull several lines into the wrapper's buffer, and ``select`` on the pipe would
    then wait for output the child had already written (a last line went unseen).
    """
    seen: list[str] = []
    while (line := _next_line(proc, deadline)) is not None:
        seen.append(line)
        if line.startswith(until):
            return seen
    proc.kill()
    raise AssertionError(f"child never printed {until!r}; got {seen[-5:]}")


def read_rest(proc: subprocess.Popen[str], deadline: float) -> list[str]:
    """The child's lines until it closes its output (it is exiting) or the deadline."""
    seen: list[str] = []
    while (line := _next_line(proc, deadline)) is not None:
        seen.append(line)
    return seen


def _next_line(proc: subprocess.Popen[Any], deadline: float) -> str | None:
    """The child's next line; None at the deadline or when it closed its output."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    pending: bytes = getattr(proc, _PENDING, b"")
    try:
        while b"\n" not in pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            pending += chunk
        raw, pending = pending.split(b"\n", 1)
        return raw.decode().strip()
    finally:
        setattr(proc, _PENDING, pending)


class Child:
    """A child process running a script (:func:`start_node`), with every line read from it
    so far in ``lines``."""

    def __init__(self, script: Path, *args: str) -> None:
        self.proc = start_node(script, *args)
        self.lines: list[str] = []

    def read_until(self, prefix: str, deadline: float) -> list[str]:
        """:func:`read_until` of this child."""
        seen = read_until(self.proc, prefix, deadline)
        self.lines += seen
        return seen

    def read_rest(self, deadline: float) -> list[str]:
        """:func:`read_rest` of this child."""
        seen = read_rest(self.proc, deadline)
        self.lines += seen
        return seen

    def close(self, timeout: float) -> None:
        """Kill the child if it still runs, reap it, close the pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
