"""Whole-suite measurements: virtual time against the real clock, and flakiness under load.

    python bench/suite_ab.py ab               # virtual vs real clock, one run each, interleaved
    python bench/suite_ab.py ab --runs 3      # three of each, ABAB...
    python bench/suite_ab.py hog --repeat 20  # 20 virtual-time runs with both cores loaded
    python bench/suite_ab.py --root /tmp/snap hog   # run a snapshot (git worktree) instead

``--root`` runs the suite of another checkout (e.g. ``git worktree add /tmp/snap HEAD``)
with its ``src`` first on ``PYTHONPATH``, so a tree being edited meanwhile cannot change
the code under measurement.

Each run is ``python -m pytest tests -q -p no:cacheprovider --junitxml=...`` in a fresh
process; the only difference between A and B is ``BASTION_REAL_TIME``. The script checks
that both clocks ran the same test ids with the same outcomes, and reports wall time,
child CPU time (user+sys) and the speed-up, as one JSON object. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]  # replaced by --root
HOG = "import time\nwhile True:\n    pass\n"


def _outcomes(junit: Path) -> dict[str, str]:
    results: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        tags = {child.tag for child in case}
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if tag in tags:
                outcome = tag
        results[test_id] = outcome
    return results


def run_suite(*, real_time: bool, paths: list[str]) -> dict[str, Any]:
    """One pytest run of ``paths``; wall, CPU and per-test outcomes."""
    env = dict(os.environ, BASTION_REAL_TIME="1" if real_time else "0")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}"]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        outcomes = _outcomes(junit) if junit.exists() else {}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    failed = sorted(t for t, o in outcomes.items() if o in {"failure", "error"})
    return {
        "clock": "real" if real_time else "virtual",
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "exit_code": proc.returncode,
        "tests": len(outcomes),
        "failed": failed,
        "outcomes": outcomes,
        "tail": proc.stdout.strip().splitlines()[-1:] if proc.stdout else [],
    }


def ab(runs: int, paths: list[str]) -> dict[str, Any]:
    """Interleaved virtual/real runs; the ratio of median wall times."""
    virtual: list[dict[str, Any]] = []
    real: list[dict[str, Any]] = []
    for _ in range(runs):
        virtual.append(run_suite(real_time=False, paths=paths))
        real.append(run_suite(real_time=True, paths=paths))
    pairs = list(zip(virtual, real, strict=True))
    same_ids = all(v["outcomes"].keys() == r["outcomes"].keys() for v, r in pairs)
    diff = sorted(
        t for v, r in pairs for t in v["outcomes"]
        if v["outcomes"].get(t) != r["outcomes"].get(t)
    )  # fmt: skip
    v_wall = statistics.median(r["wall_s"] for r in virtual)
    r_wall = statistics.median(r["wall_s"] for r in real)
    return {
        "suite_ab": {
            "runs_each": runs,
            "tests": virtual[0]["tests"],
            "same_test_ids": same_ids,
            "outcome_differences": diff,
            "virtual": [_strip(r) for r in virtual],
            "real": [_strip(r) for r in real],
            "virtual_wall_median_s": v_wall,
            "real_wall_median_s": r_wall,
        },
        "ratios": {"suite_real_over_virtual_wall": round(r_wall / v_wall, 2)},
    }


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "outcomes"}


def hog(repeat: int, hogs: int, paths: list[str]) -> dict[str, Any]:
    """``repeat`` virtual-time runs while ``hogs`` busy-loop processes load the CPUs."""
    procs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(hogs)]
    runs: list[dict[str, Any]] = []
    try:
        for i in range(repeat):
            result = _strip(run_suite(real_time=False, paths=paths))
            runs.append(result)
            print(f"run {i + 1}/{repeat}: {result['wall_s']} s, {result['tests']} tests, "
                  f"failed {result['failed']}", file=sys.stderr, flush=True)  # fmt: skip
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    walls = [r["wall_s"] for r in runs]
    return {
        "suite_hog": {
            "repeat": repeat,
            "cpu_hogs": hogs,
            "tests_per_run": [r["tests"] for r in runs],
            "runs_with_failures": sum(1 for r in runs if r["failed"] or r["exit_code"]),
            "failed_tests": sorted({t for r in runs for t in r["failed"]}),
            "wall_s_median": statistics.median(walls),
            "wall_s_max": max(walls),
        }
    }


def main(argv: list[str] | None = None) -> int:
    global ROOT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to measure")
    sub = parser.add_subparsers(dest="mode", required=True)
    p_ab = sub.add_parser("ab", help="virtual vs real clock")
    p_ab.add_argument("--runs", type=int, default=1)
    p_hog = sub.add_parser("hog", help="repeated virtual runs under a CPU hog")
    p_hog.add_argument("--repeat", type=int, default=20)
    p_hog.add_argument("--hogs", type=int, default=os.cpu_count() or 2)
    for p in (p_ab, p_hog):
        p.add_argument("paths", nargs="*", default=["tests"])
    args = parser.parse_args(argv)
    ROOT = args.root.resolve()
    if args.mode == "ab":
        result = ab(args.runs, args.paths)
    else:
        result = hog(args.repeat, args.hogs, args.paths)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
