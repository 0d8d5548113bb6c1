"""``find_sleeps``: every sleep in a test tree with a suggested replacement."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bastion.checks._config import Config, find_pyproject, load_config
from bastion.checks._context import FileContext
from bastion.checks._engine import walk_blocks
from bastion.checks._file import module_name
from bastion.checks._parse import decode, parse_blocks
from bastion.checks._rules_tests import SleepCollector
from bastion.checks._runner import discover
from bastion.checks._sleeps import SleepSite

__all__ = ["find_sleeps", "format_sleeps"]


def find_sleeps(paths: Iterable[str | Path], config: Config | None = None) -> list[SleepSite]:
    """Every sleep call (``time.sleep``, ``asyncio/trio/anyio.sleep``) under ``paths``.

    Unlike the ``sleep-in-test`` rule this looks at every file given, test pattern or
    not, and includes zero-second checkpoints (``site.is_checkpoint``). Each site has a
    ``suggestion`` naming the ``bastion.testing`` helper to use instead. Files that do
    not parse are skipped (``bastion check`` reports them).
    """
    paths = list(paths)
    if config is None:
        pyproject = find_pyproject(Path.cwd())
        config = load_config(pyproject)
    sites: list[SleepSite] = []
    for path in discover(paths, config):
        module, is_package = module_name(path, config.root)
        ctx = FileContext(path.as_posix(), module, is_test=True, is_package=is_package)
        try:
            blocks = parse_blocks(decode(path.read_bytes()), str(path))
            [collector] = walk_blocks(blocks, ctx, [SleepCollector])
        except (SyntaxError, ValueError, OSError, RecursionError):
            continue
        assert isinstance(collector, SleepCollector)
        sites.extend(collector.sites)
    return sorted(sites, key=lambda s: (s.path, s.line, s.col))


def format_sleeps(sites: list[SleepSite]) -> str:
    """Text listing of :func:`find_sleeps` results, one site per line plus a count."""
    lines = []
    for site in sites:
        delay = "?" if site.seconds is None else f"{site.seconds:g}"
        lines.append(
            f"{site.path}:{site.line}:{site.col} {site.function}({delay}) "
            f"in {site.symbol.rpartition('.')[2]}: {site.suggestion}"
        )
    waits = sum(1 for s in sites if not s.is_checkpoint)
    lines.append(f"{len(sites)} sleep(s), {waits} of them real waits")
    return "\n".join(lines)
