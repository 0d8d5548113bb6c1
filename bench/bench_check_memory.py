"""Peak memory of ``bastion check`` on one 5 MB module (issue 18: it took 1.1 GB).

Writes two 5 MB modules into a temporary directory — ``flat.py`` (short assignments,
the densest AST per byte) and ``real.py`` (this repository's sources repeated) — runs
``bastion check`` on each in a child process and prints one JSON object with the
child's peak resident set size (Linux) and wall time. Big files are parsed a block of
top-level statements at a time (``bastion.checks._parse``), so the peak stays near the
size of one block's tree instead of the whole file's.

    python bench/bench_check_memory.py [--megabytes 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT = 600.0


def _flat(size: int) -> str:
    lines, total, i = [], 0, 0
    while total < size:
        line = f'value_{i} = compute({i}, key="k{i}") + other[{i}]\n'
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines)


def _real(size: int) -> str:
    sources = sorted((ROOT / "src" / "bastion").rglob("*.py"))
    parts, total, i = [], 0, 0
    while total < size:
        text = sources[i % len(sources)].read_text(encoding="utf-8")
        text = text.replace("from __future__ import annotations", "")
        parts.append(f"# part {i}\n{text}\n")
        total += len(text)
        i += 1
    return "".join(parts)


_CHILD = (
    "import resource, sys\n"
    "from bastion.checks import main\n"
    "status = main(['--format', 'json', sys.argv[1]])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(status)\n"
)


def _measure(path: Path) -> dict[str, object]:
    """Check ``path`` in a fresh child process: its own peak RSS and the wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, path.name],
        capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=path.parent, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    peak_kb = int(done.stderr.strip().splitlines()[-1])  # Linux reports ru_maxrss in kB
    report = json.loads(done.stdout)
    findings = report["findings"] if isinstance(report, dict) else report  # before 0.1: a list
    return {
        "bytes": path.stat().st_size,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "seconds": round(seconds, 2),
        "exit_status": done.returncode,
        "findings": len(findings),
    }


def peaks(megabytes: float) -> dict[str, object]:
    """Write the modules and check each in its own process."""
    size = int(megabytes * 1_000_000)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bastion-check-mem-") as tmp:
        for name, make in (("real.py", _real), ("flat.py", _flat)):
            path = Path(tmp) / name
            path.write_text(make(size), encoding="utf-8")
            results[name] = _measure(path)
    return results


def run(quick: bool) -> dict[str, object]:
    """For bench/run.py: 0.3 MB modules when quick (a few seconds), else 5 MB."""
    return {"check_memory": peaks(0.3 if quick else 5.0)}


def main() -> None:
    """Print the peaks as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(peaks(args.megabytes), indent=2))


if __name__ == "__main__":
    main()
