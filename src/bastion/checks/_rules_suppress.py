"""BAS9xx ``unjustified-suppression``: descriptions of the suppression checks.

These rules do not walk the tree: :mod:`bastion.checks._suppress` and the allowlist
matcher produce their findings. They are registered so that ``--explain``,
``--select``/``--ignore`` and the docs treat them like every other rule.
"""

from __future__ import annotations

from bastion.checks._model import Rule

__all__ = ["AllowlistWithoutReason", "NoqaWithoutReason", "UnusedAllowlistEntry", "UnusedNoqa"]

_NAME = "unjustified-suppression"


class NoqaWithoutReason(Rule):
    """``# noqa: BASxxx`` without ``-- reason``."""

    code = "BAS901"
    name = _NAME
    summary = "`# noqa: BAS...` without a written reason"
    explanation = """\
An inline suppression of a Bastion rule must say why: `# noqa: BAS702 -- the runtime
boundary reports every crash to the supervisor`. The reason follows ` -- `, has at
least 10 characters and two words, and is not a placeholder ("todo", "fixme",
"temporary", "by design", "ok", "ignore", "false positive", ...). Without one the
suppression still hides the original finding, but this finding takes its place, so
the run still fails. (flake8 reads `# noqa: BAS702 -- reason` as code BAS702: its
regex stops at `--`.) A bare `# noqa` without codes never suppresses Bastion rules in
`bastion check`.
"""


class UnusedNoqa(Rule):
    """``# noqa: BASxxx`` where that rule reports nothing."""

    code = "BAS902"
    name = _NAME
    summary = "`# noqa: BAS...` that suppresses nothing (or names an unknown code)"
    explanation = """\
A suppression whose code does not fire on its line (the code was fixed, the line moved,
the code is misspelt or unknown) hides nothing today but will silently hide a real
finding tomorrow. Remove it. Like `#[expect]` in Rust and ruff's RUF100. Only codes of
rules enabled in this run are checked.
"""


class AllowlistWithoutReason(Rule):
    """An allowlist entry in ``[tool.bastion.check]`` without a reason."""

    code = "BAS903"
    name = _NAME
    summary = "allowlist entry without a written reason"
    explanation = """\
Every `[[tool.bastion.check.allow]]` entry needs `reason = "..."` (same standard as an
inline reason). An entry without one is reported here (at its line in pyproject.toml)
and is not applied, so the findings it would hide are reported too.
"""


class UnusedAllowlistEntry(Rule):
    """An allowlist entry that matched no finding."""

    code = "BAS904"
    name = _NAME
    summary = "allowlist entry that suppresses nothing"
    explanation = """\
An allowlist entry whose symbol and rules matched no finding in this run is stale: the
code it excused was fixed or moved. Remove it, or narrow it to what still needs it.
Entries are only judged when at least one checked file lies under their symbol and
their rules are enabled, so checking a sub-tree does not report unrelated entries.
"""
