"""Static checker throughput: ``bastion check`` vs flake8 + flake8-async, same files, same run.

Corpus: the standard library's ``asyncio`` package plus our ``src/``, copied 3 times into
a temp dir for a large corpus (``--quick``: ``asyncio`` alone, once, to stay short; its
lines/s is dominated by interpreter start-up, judge throughput on the full run). Both tools run as
subprocesses with 2 jobs, cold, ``rounds`` times; the median wall time counts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JOBS = 2


def _corpus(target: Path, copies: int) -> int:
    sources = [Path(asyncio.__file__).parent]
    if copies:
        sources.append(ROOT / "src")
    copies = max(copies, 1)
    lines = 0
    for copy in range(copies):
        for source in sources:
            dest = target / f"c{copy}" / source.name
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.rglob("*.py"):
        lines += len(path.read_bytes().splitlines())
    return lines


def _time(cmd: list[str], cwd: Path, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        done = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=600, check=False
        )
        samples.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{cmd[:4]} failed: {done.stderr[-2000:]}")
    return statistics.median(samples)


def run(quick: bool) -> dict[str, Any]:
    """Lines/s of both tools and the speed-up ratio (``checks_vs_flake8_async``)."""
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "pyproject.toml").write_text('[project]\nname = "bench"\n')
        lines = _corpus(work / "corpus", 0 if quick else 3)
        ours = _time(
            [sys.executable, "-m", "bastion.checks", "corpus", "--exit-zero", "--format", "json",
             "--jobs", str(JOBS)], work, rounds,
        )  # fmt: skip
        result: dict[str, Any] = {
            "checks_corpus_lines": lines,
            "checks_seconds": round(ours, 3),
            "checks_lines_per_s": round(lines / ours),
            "ratios": {},
        }
        if importlib.util.find_spec("flake8") and importlib.util.find_spec("flake8_async"):
            flake8 = _time(
                [sys.executable, "-m", "flake8", "--isolated", "--select", "ASYNC", "--exit-zero",
                 "-j", str(JOBS), "corpus"], work, rounds,
            )  # fmt: skip
            result["checks_flake8_async_seconds"] = round(flake8, 3)
            result["checks_flake8_async_lines_per_s"] = round(lines / flake8)
            result["ratios"]["checks_vs_flake8_async"] = round(flake8 / ours, 2)
        else:
            result["checks_flake8_async"] = "skipped: pip install flake8 flake8-async"
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
