"""CPU instructions per metric operation, counted by valgrind (robust to machine load).

Each figure is the difference between two runs of the same child process (``N`` and 0
operations) under ``valgrind --tool=callgrind``, divided by ``N``; ``trivial`` is the
same loop calling a Python function that does nothing, so ``record - trivial`` is what
one histogram record adds to a call site. Values are log-normal latencies (1,024 of
them, cycled). Needs ``valgrind`` (``apt-get install -y valgrind``); takes minutes.

    python bench/callgrind_ops.py [--quick]  (not run by bench/run.py: it takes minutes)
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from typing import Any

KINDS = ("trivial", "record", "inc")


def _child(kind: str, n: int) -> None:
    from bastion.telemetry import LogLinearHistogram, MetricsRegistry

    rng = random.Random(9)
    values = [rng.lognormvariate(-9.5, 0.6) for _ in range(1024)]
    histogram = LogLinearHistogram()
    registry = MetricsRegistry(time.monotonic)
    counter = registry.counter("bench", "A counter.", labels=("k",)).labels("x")

    def trivial(value: float) -> None:
        return None

    fn: Any = {"trivial": trivial, "record": histogram.record, "inc": counter.inc}[kind]
    for i in range(n):
        fn(values[i & 1023])


def _instructions(kind: str, n: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        kind,
        str(n),
    ]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=1800, check=True, env=environment
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output: {done.stderr[-500:]}")
    return int(found.group(1))


def run(quick: bool) -> dict[str, Any]:
    """Instructions per operation and the ratios to the trivial call."""
    if shutil.which("valgrind") is None:
        return {"ops_callgrind": None, "reason": "valgrind is not installed"}
    n = 50_000 if quick else 200_000
    per_op = {kind: (_instructions(kind, n) - _instructions(kind, 0)) / n for kind in KINDS}
    trivial = per_op["trivial"]
    return {
        "ops_instructions": {kind: round(value) for kind, value in per_op.items()},
        "ratios": {
            "histogram_record_vs_trivial_call_instructions": round(per_op["record"] / trivial, 2),
            "counter_inc_vs_trivial_call_instructions": round(per_op["inc"] / trivial, 2),
        },
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], int(sys.argv[3]))
    else:
        print(json.dumps(run(quick="--quick" in sys.argv), indent=2, sort_keys=True))
