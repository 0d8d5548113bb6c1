"""A console node in a child process (tests/console/_node.py), for tests that need a socket."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests._child import read_until

NODE = Path(__file__).with_name("_node.py")
ROOT = Path(__file__).resolve().parents[2]
SRC = str(ROOT / "src")
TOKEN = "console-test-token-0123456789"


@dataclass
class LiveNode:
    """A running node: its console ``url`` and ``token``; ``crash(child)`` injects a crash."""

    proc: subprocess.Popen[str]
    url: str
    token: str

    def crash(self, child: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"crash {child}\n")
        self.proc.stdin.flush()
        read_until(self.proc, f"crashed {child}", time.monotonic() + 30.0)


@contextmanager
def live_node() -> Iterator[LiveNode]:
    """Start the node, wait for its console line (at most 60 s), stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, str(NODE), TOKEN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join((SRC, str(ROOT))),
        },
    )
    try:
        line = read_until(proc, "console ", time.monotonic() + 60.0)[-1]
        _, url, token = line.split()
        yield LiveNode(proc, url, token)
    finally:
        if proc.stdin is not None and proc.poll() is None:
            proc.stdin.write("quit\n")
            proc.stdin.close()
        try:
            proc.wait(timeout=15.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5.0)
        if proc.stdout is not None:
            proc.stdout.close()
