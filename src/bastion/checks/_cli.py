"""``bastion check`` / ``python -m bastion.checks``: the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bastion.checks._baseline import Baseline
from bastion.checks._config import Config, ConfigError, find_pyproject, load_config
from bastion.checks._model import Rule
from bastion.checks._registry import all_rules
from bastion.checks._report import FORMATS, render
from bastion.checks._runner import check_paths
from bastion.checks._sleepfinder import find_sleeps, format_sleeps

__all__ = ["explain", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bastion check",
        description="Static checker for supervision, delivery and timeout discipline. "
        "Exit status: 0 clean, 1 findings, 2 usage or configuration error, 130 interrupted.",
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or directories (default .)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument("--select", default="", help="comma-separated codes, prefixes or names")
    parser.add_argument("--ignore", default="", help="comma-separated codes, prefixes or names")
    parser.add_argument("--config", type=Path, help="pyproject.toml to read (default: nearest)")
    parser.add_argument("--baseline", type=Path, help="accept the findings recorded in this file")
    parser.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="record the current findings as accepted debt, exit 0",
    )
    parser.add_argument("--no-baseline", action="store_true", help="ignore a configured baseline")
    parser.add_argument(
        "--jobs", "-j", type=int, default=0, help="worker processes (default: CPUs)"
    )
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    parser.add_argument("--explain", metavar="CODE", help="explain a rule (code or name) and exit")
    parser.add_argument("--list-rules", action="store_true", help="list every rule and exit")
    parser.add_argument(
        "--sleeps",
        action="store_true",
        help="list every sleep under PATHS with a suggested replacement",
    )
    return parser


def explain(code_or_name: str) -> str:
    """The ``--explain`` text of a rule, by code (``BAS101``) or name (``raw-send``)."""
    rules = all_rules()
    wanted = code_or_name.strip()
    matches = [r for c, r in rules.items() if c == wanted.upper() or r.name == wanted]
    if not matches:
        raise ConfigError(f"unknown rule {code_or_name!r} (see --list-rules)")
    return "\n\n".join(_explain_one(rule) for rule in matches)


def _explain_one(rule: type[Rule]) -> str:
    return f"{rule.code} {rule.name}: {rule.summary}\n\n{rule.explanation.rstrip()}"


def _list_rules() -> str:
    return "\n".join(f"{c} {r.name:<24} {r.summary}" for c, r in sorted(all_rules().items()))


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _config(args: argparse.Namespace) -> Config:
    if args.config is not None:
        if not args.config.is_file():
            raise ConfigError(f"{args.config}: no such configuration file")
        return load_config(args.config)
    return load_config(find_pyproject(Path.cwd()))


def _baseline(args: argparse.Namespace, config: Config) -> Baseline | None:
    if args.no_baseline or args.write_baseline is not None:
        return None
    if args.baseline is not None:
        return Baseline.load(args.baseline)
    if config.baseline:
        path = config.root / config.baseline
        return Baseline.load(path) if path.exists() else None
    return None


def _run(args: argparse.Namespace) -> int:
    if args.list_rules:
        print(_list_rules())
        return 0
    if args.explain:
        print(explain(args.explain))
        return 0
    config = _config(args)
    if args.sleeps:
        sites = find_sleeps(args.paths, config)
        if args.format == "json":
            print(json.dumps([dataclasses.asdict(s) for s in sites], indent=2))
        else:
            print(format_sleeps(sites))
        return 0
    rules = all_rules()
    report = check_paths(
        args.paths, config, select=_split(args.select), ignore=_split(args.ignore),
        baseline=_baseline(args, config), jobs=args.jobs or None,
    )  # fmt: skip
    if args.write_baseline is not None:
        count = Baseline.write(args.write_baseline, report.active)
        print(f"wrote {count} finding(s) to {args.write_baseline}")
        return 0
    print(render(report, args.format, rules))
    return 1 if report.active and not args.exit_zero else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``bastion check`` with ``argv``; returns the exit status (0, 1, 2 or 130)."""
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help exits 0, bad usage exits 2
        return exc.code if isinstance(exc.code, int) else 2
    if args.jobs < 0:
        print("bastion check: error: --jobs must be >= 0", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"bastion check: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bastion check ... | head`
        sys.stderr.close()
        return 1
    except KeyboardInterrupt:
        print("bastion check: interrupted", file=sys.stderr)
        return 130
