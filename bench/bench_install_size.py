"""Installed size of bastion with its dependencies: library-only, and with the ``cli`` extra.

Installs this checkout (``pip install --target``, so nothing touches the current
environment) into throw-away directories and prints one JSON object: the total bytes
of each install and the bytes per top-level distribution. The target for a
library-only install is 5 MB including dependencies (issue 14).

    python bench/bench_install_size.py [--extra cli]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_BYTES = 5 * 1024 * 1024
INSTALL_TIMEOUT = 600.0


def _tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _owner(entry: Path) -> str:
    """The distribution a top-level entry belongs to (``msgspec-0.18.dist-info`` → msgspec)."""
    name = entry.name
    for suffix in (".dist-info", ".libs", ".data"):
        if name.endswith(suffix):
            name = name.removesuffix(suffix).split("-")[0]
    return name.removesuffix(".py").lower().replace("-", "_")


def measure(spec: str) -> dict[str, int]:
    """Install ``spec`` (a path with optional extras) afresh: bytes per distribution.

    Bytecode is compiled as by a default ``pip install``: ``__pycache__`` counts.
    """
    with tempfile.TemporaryDirectory(prefix="bastion-size-") as tmp:
        target = Path(tmp) / "site"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), spec],
            check=True, timeout=INSTALL_TIMEOUT, cwd=tmp,
        )  # fmt: skip
        per: dict[str, int] = {}
        for entry in target.iterdir():
            if entry.name == "bin":  # console scripts: a few hundred bytes, not a package
                continue
            per[_owner(entry)] = per.get(_owner(entry), 0) + _tree_bytes(entry)
    return dict(sorted(per.items(), key=lambda kv: -kv[1]))


def _described(spec: str, per: dict[str, int]) -> dict[str, object]:
    total = sum(per.values())
    return {
        "spec": spec,
        "bytes": total,
        "megabytes": round(total / 1024 / 1024, 2),
        "by_distribution": per,
    }


def sizes(extras: list[str]) -> dict[str, object]:
    """The library-only install and one install per extra, with the 5 MB verdict."""
    library = measure(str(ROOT))
    result: dict[str, object] = {
        "library": _described(str(ROOT), library),
        "target_bytes": TARGET_BYTES,
        "within_target": sum(library.values()) <= TARGET_BYTES,
    }
    for extra in extras:
        spec = f"{ROOT}[{extra}]"
        result[f"with_{extra}"] = _described(spec, measure(spec))
    return result


def run(quick: bool) -> dict[str, object]:
    """For bench/run.py: the library install, and (unless quick) the ``cli`` extra."""
    return {"install_size": sizes([] if quick else ["cli"])}


def main() -> None:
    """Measure the library-only install (and each ``--extra``) and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", action="append", default=[], help="also measure [EXTRA]")
    args = parser.parse_args()
    print(json.dumps(sizes(args.extra), indent=2))


if __name__ == "__main__":
    main()
