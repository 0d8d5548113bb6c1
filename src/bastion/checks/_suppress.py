"""Inline suppressions: ``# noqa: BAS101 -- reason`` parsing, matching and auditing."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, replace

from bastion.checks._model import Finding, Suppression

__all__ = ["Noqa", "apply_noqa", "parse_noqa", "reason_problem"]

_NOQA = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?(?P<rest>.*)",
    re.IGNORECASE,
)
_PLACEHOLDERS = frozenset(
    {"todo", "fixme", "xxx", "tbd", "temp", "temporary", "by design", "ok", "okay", "ignore",
     "ignored", "needed", "required", "intentional", "false positive", "legacy", "suppressed",
     "n/a", "na", "none", "hack", "wip", "later", "see above", "reason"}
)  # fmt: skip
_OWN_PREFIX = "BAS"
_AUDIT = ("BAS901", "BAS902")


@dataclass(frozen=True, slots=True)
class Noqa:
    """One ``# noqa`` comment: its codes (empty for a blanket noqa) and reason."""

    line: int
    col: int
    codes: tuple[str, ...]
    reason: str


def reason_problem(reason: str) -> str | None:
    """Why ``reason`` is not a written reason, or None if it is one."""
    text = reason.strip().strip(".").strip()
    if not text:
        return "no reason given (write `-- <why>` after the codes)"
    if text.lower() in _PLACEHOLDERS:
        return f"{text!r} is a placeholder, not a reason"
    if len(text) < 10 or len(text.split()) < 2:
        return f"{text!r} is too short to be a reason"
    return None


def _comments(source: str) -> Iterable[tuple[int, int, str]]:
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.start[1] + 1, tok.string
    except (tokenize.TokenError, SyntaxError):
        return


def parse_noqa(source: str) -> list[Noqa]:
    """Every ``# noqa`` comment in ``source`` (comments only, not strings)."""
    if "noqa" not in source and "NOQA" not in source.upper():
        return []
    found = []
    for line, col, text in _comments(source):
        match = _NOQA.search(text)
        if match is None:
            continue
        codes = tuple(c.upper() for c in re.split(r"[,\s]+", match["codes"] or "") if c)
        rest = match["rest"].strip()
        reason = rest[2:] if rest.startswith("--") else ""
        reason = re.split(r"\s#", reason, maxsplit=1)[0].strip()  # a trailing comment is not it
        found.append(Noqa(line, col + match.start(), codes, reason))
    return found


def apply_noqa(
    path: str,
    findings: list[Finding],
    comments: list[Noqa],
    known: set[str],
    enabled: set[str],
    aliases: dict[str, tuple[str, ...]] | None = None,
) -> list[Finding]:
    """Mark findings suppressed by their line's noqa; add BAS901/BAS902 audit findings.

    ``known`` are all registered codes; ``enabled`` those that ran. A blanket ``# noqa``
    (no codes) does not suppress Bastion rules. BAS9xx findings cannot be suppressed.
    ``aliases`` maps a code to other tools' codes for the same problem (``BLE001``).
    """
    aliases = aliases or {}
    alias_used: set[int] = set()
    by_line: dict[int, Noqa] = {n.line: n for n in comments}
    used: set[tuple[int, str]] = set()
    result: list[Finding] = []
    for finding in findings:
        noqa = by_line.get(finding.line)
        code = _matching_code(finding.code, noqa, aliases.get(finding.code, ()))
        if noqa is None or code is None or finding.code.startswith("BAS9"):
            result.append(finding)
            continue
        used.add((noqa.line, code))
        if not code.startswith(_OWN_PREFIX):
            alias_used.add(noqa.line)
        result.append(_suppressed(finding, noqa.reason))
    for noqa in comments:
        result.extend(_audit(noqa, used, known, enabled, path, noqa.line in alias_used))
    return result


def _matching_code(code: str, noqa: Noqa | None, aliases: tuple[str, ...]) -> str | None:
    if noqa is None:
        return None
    for candidate in noqa.codes:
        if code.startswith(candidate) or candidate in aliases:
            return candidate
    return None


def _suppressed(finding: Finding, reason: str) -> Finding:
    return replace(finding, suppression=Suppression("inline", reason))


def _audit(
    noqa: Noqa,
    used: set[tuple[int, str]],
    known: set[str],
    enabled: set[str],
    path: str,
    alias_used: bool,
) -> Iterable[Finding]:
    own = [c for c in noqa.codes if c.startswith(_OWN_PREFIX)]
    if not own and not alias_used:
        return
    problem = reason_problem(noqa.reason)
    if problem is not None:
        named = ", ".join(noqa.codes)
        yield _unjustified(noqa, path, _AUDIT[0], f"`# noqa: {named}` without a reason: {problem}")
    for code in own:
        if not any(k.startswith(code) for k in known):
            yield _unjustified(noqa, path, _AUDIT[1], f"`# noqa: {code}` names no known rule")
        elif (noqa.line, code) not in used and any(e.startswith(code) for e in enabled):
            message = f"`# noqa: {code}` suppresses nothing on this line: remove it"
            yield _unjustified(noqa, path, _AUDIT[1], message)


def _unjustified(noqa: Noqa, path: str, code: str, message: str) -> Finding:
    """A finding of the suppression audit (``code``: one of ``_AUDIT``) at ``noqa``."""
    return Finding(path, noqa.line, noqa.col, code, "unjustified-suppression", message)
