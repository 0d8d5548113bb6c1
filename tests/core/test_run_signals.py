"""``bastion.run`` shuts down gracefully on SIGINT and SIGTERM, and within a bound."""

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

    async def main():
        rt = bastion.current_runtime()
        await rt.start_supervisor(
            [bastion.ChildSpec(t, Worker, (t,)) for t in ("a", "b", "c")]
        )
        print("ready", flush=True)
        await asyncio.Event().wait()

    result = bastion.run(main)
    print(f"returned {result}", flush=True)
    """
)


# An actor that swallows every cancellation (issue 18 item 4): before, the runtime
# abandoned it but asyncio.run's teardown waited for its task forever.
STUBBORN = textwrap.dedent(
    """
    import asyncio
    import bastion

    class Stubborn(bastion.Actor):
        async def handle_cast(self, message):
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    print("swallowed", flush=True)

    async def main():
        ref = await bastion.current_runtime().spawn(Stubborn)
        await ref.cast("go")
        print("ready", flush=True)
        await asyncio.Event().wait()

    result = bastion.run(main, shutdown_timeout=0.2, call_timeout=0.3)
    print(f"returned {result}", flush=True)
    """
)


def _start(script: str, tmp_path: Path) -> subprocess.Popen[str]:
    path = tmp_path / "app.py"
    path.write_text(script, encoding="utf-8")
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src}
    return subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no output within {timeout}s"
    return proc.stdout.readline().strip()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_the_tree_in_reverse_order(signum: int, tmp_path: Path) -> None:
    with _start(SCRIPT, tmp_path) as proc:
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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_process_even_if_an_actor_ignores_cancellation(
    signum: int, tmp_path: Path
) -> None:
    with _start(STUBBORN, tmp_path) as proc:
        try:
            assert _read_line(proc) == "ready"
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=30)  # hung forever before the fix
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0
    assert out.splitlines()[-1] == "returned None"
    assert "swallowed" in out  # it really ignored its kill
    assert "abandoning it" in err
    assert "abandoning 1 task(s) that ignored cancellation" in err
    assert "Task was destroyed" not in err
