"""``bastion demo --metrics-port``: Prometheus /metrics while the demo runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.cli._process import demo_stderr_line, start_bastion

SERVING = "bastion demo: serving "


def _serving_url(proc: subprocess.Popen[str]) -> str:
    line = demo_stderr_line(proc, lambda line: line.startswith(SERVING), "its metrics URL")
    return line.removeprefix(SERVING).strip()


def test_demo_serves_metrics_while_it_runs(tmp_path: Path) -> None:
    proc = start_bastion(
        "demo", "--json", "--metrics-port", "0",
        "--tasks", "2000", "--io-ms", "20", "--db", str(tmp_path / "d.db"),
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
