"""``bastion demo --metrics-port``: Prometheus /metrics while the demo runs."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path

import httpx

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _serving_url(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert proc.stderr is not None
    while True:
        ready, _, _ = select.select([proc.stderr], [], [], timeout)
        assert ready, f"the demo did not report its metrics URL within {timeout}s"
        line = proc.stderr.readline()
        assert line, "the demo exited before serving metrics"
        if line.startswith("bastion demo: serving "):
            return line.removeprefix("bastion demo: serving ").strip()


def test_demo_serves_metrics_while_it_runs(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bastion", "demo", "--json", "--metrics-port", "0",
         "--tasks", "2000", "--io-ms", "20", "--db", str(tmp_path / "d.db")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )  # fmt: skip
    try:
        url = _serving_url(proc)
        assert url.startswith("http://127.0.0.1:")
        response = httpx.get(url, timeout=10.0)
        assert response.status_code == 200
        assert "# TYPE bastion_calls_total counter" in response.text
        assert "# TYPE bastion_restarts_total counter" in response.text
        assert "bastion_exporter_scrape_errors_total 0.0" in response.text
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
