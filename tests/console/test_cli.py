"""``bastion console``, ``bastion demo --console`` and ``bastion top`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cli._process import SRC, demo_stderr_line, start_bastion
from tests.console._live import live_node


def _bastion(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bastion", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": SRC},
        check=False,
    )


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10.0) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


def test_top_once_shows_the_busiest_actors_supervisors_and_health() -> None:
    with live_node() as node:
        result = _bastion("top", "--url", node.url, "--once", "--lines", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bastion ")
    assert "health ok" in lines[0]
    assert "busiest actors:" in lines
    assert sum(1 for line in lines if "Worker" in line or "Traffic" in line) >= 1
    assert any(line.strip().startswith("pool ") for line in lines)
    assert any(line.startswith("rollout new-step: running, phase 1/5") for line in lines)


def test_top_says_in_one_line_when_the_console_cannot_be_reached() -> None:
    result = _bastion("top", "--url", "http://127.0.0.1:9/", "--once")
    assert result.returncode == 3
    assert result.stderr.startswith("bastion top: error: cannot reach the console")
    assert len(result.stderr.strip().splitlines()) == 1


def test_console_refuses_a_public_address_without_a_token() -> None:
    result = _bastion("console", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "needs a token" in result.stderr


def test_console_serves_a_demo_node_and_prints_url_and_token() -> None:
    proc = start_bastion("console", "--port", "0", "--tasks", "50")
    try:
        url = demo_stderr_line(proc, lambda line: "console: http" in line, "its URL").split()[-1]
        token = demo_stderr_line(proc, lambda line: "token" in line, "its token").split()[-1]
        overview = _get(url + "api/overview")
        tree = _get(url + "api/tree")
        request = urllib.request.Request(
            url + "api/dead-letters/replay",
            data=b'{"why": "cli test"}',
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10.0) as response:
            replay = json.loads(response.read())
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0
    assert overview["node"]["version"]  # type: ignore[index]
    assert "bastion-console" in tree["roots"]  # type: ignore[operator]
    assert replay["audit"]["why"] == "cli test"


def test_demo_console_keeps_serving_after_the_run_and_exits_0_on_ctrl_c(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    proc = start_bastion("demo", "--tasks", "20", "--chaos", "0", "--db", str(db), "--console", "0")
    try:
        url = demo_stderr_line(proc, lambda line: "console http" in line, "its URL").split()[-1]
        demo_stderr_line(proc, lambda line: "keeps serving" in line, "the end of the run")
        overview = _get(url + "api/overview")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0
    assert overview["runtime"]["actors"] >= 1  # type: ignore[index]
