"""``bastion.run`` shuts down gracefully on SIGINT and SIGTERM."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import bastion

    class Worker(bastion.Actor):
        def __init__(self, tag):
            self.tag = tag
        def on_stop(self, reason):
            print(f"stop {self.tag} {reason}", flush=True)
        def handle_call(self, message):
            return message

    async def main(rt):
        await rt.start_supervisor(
            [bastion.ChildSpec(t, Worker, (t,)) for t in ("a", "b", "c")]
        )
        print("ready", flush=True)
        await asyncio.Event().wait()

    result = bastion.run(main)
    print(f"returned {result}", flush=True)
    """
)


def _read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no output within {timeout}s"
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_tree_in_reverse_order(signum: int, tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(SCRIPT, encoding="utf-8")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert _read_line(proc) == "ready"
            proc.send_signal(signum)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert out.splitlines() == [
        "stop c shutdown",
        "stop b shutdown",
        "stop a shutdown",
        "returned None",
    ]
