"""Run every Bastion benchmark and print one JSON object.

Each ``bench/bench_*.py`` module defines ``run(quick: bool) -> dict``; its result is
merged into the top-level object (keys must not collide), and its ``ratios`` dict, if
any, into ``ratios``. Ratios are always taken against baselines measured in the same
run (DESIGN §7): only ratios are comparable across machines and runs.

    python bench/run.py --json            # full run
    python bench/run.py --quick --json    # under 30 s
    python bench/run.py --only kernel     # bench/bench_kernel.py only
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 30 s")
    parser.add_argument("--only", action="append", default=[], help="run bench_<NAME>.py only")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    result: dict[str, Any] = {"environment": _environment(), "ratios": {}}
    paths = sorted(HERE.glob("bench_*.py"))
    if args.only:
        paths = [p for p in paths if p.stem.removeprefix("bench_") in args.only]
        if not paths:
            parser.error(f"no benchmark named {args.only}")
    for path in paths:
        if not args.json:
            print(f"running {path.name} …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        part = _load(path).run(quick=args.quick)
        ratios = part.pop("ratios", {})
        clash = (set(part) & set(result)) | (set(ratios) & set(result["ratios"]))
        if clash:
            raise SystemExit(f"{path.name}: result keys collide: {sorted(clash)}")
        result.update(part)
        result["ratios"].update(ratios)
        result.setdefault("seconds", {})[path.stem] = round(time.perf_counter() - started, 2)
    print(json.dumps(result, indent=None if args.json else 2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
