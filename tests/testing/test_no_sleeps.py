"""Acceptance: the project's own suite waits with the toolkit, never by sleeping.

Uses the one sleep finder (the checker's ``sleep-in-test`` rule). Strict on purpose: the
configured ``virtual-time-tests`` exemption is turned off here, because an awaited
sleep is still a wait by guessing (and costs real time under ``BASTION_REAL_TIME=1``).
A sleep that is itself the subject of a test carries ``# noqa: BAS601 -- reason``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bastion.checks import check_paths, find_pyproject, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_no_test_in_the_suite_sleeps() -> None:
    config = dataclasses.replace(load_config(find_pyproject(ROOT)), virtual_time_tests=False)
    report = check_paths([ROOT / "tests"], config, select=["sleep-in-test"], jobs=1)
    sleeps = [f"{f.path}:{f.line}: {f.message}" for f in report.findings if f.suppression is None]
    assert sleeps == [], "tests that sleep (use bastion.testing instead):\n" + "\n".join(sleeps)
