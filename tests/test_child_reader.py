"""The kill -9 tests' line reader (tests/_child.py) sees every line the child printed."""

from __future__ import annotations

import time
from pathlib import Path

from tests._child import read_until, start_node

CHILD = """
import signal
import sys
sys.stdout.write("READY\\nDONE\\n")  # two lines in one write, then nothing more
sys.stdout.flush()
signal.pause()  # stays alive and quiet until the test kills it
"""


def test_a_line_already_read_from_the_pipe_is_not_lost_between_two_reads(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = start_node(script)
    try:
        assert read_until(proc, "READY", time.monotonic() + 30.0) == ["READY"]
        # DONE came with READY in one read of the pipe; the pipe itself is now empty.
        assert read_until(proc, "DONE", time.monotonic() + 10.0) == ["DONE"]
    finally:
        proc.kill()
        proc.wait(timeout=30.0)
        if proc.stdout is not None:
            proc.stdout.close()
