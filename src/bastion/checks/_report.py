"""Output formats: text, JSON, SARIF 2.1.0 and GitHub workflow annotations."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from importlib import metadata

from bastion.checks._model import Finding, Rule
from bastion.checks._runner import Report

__all__ = ["FORMATS", "help_uri", "render", "summary", "tool_version"]

FORMATS = ("text", "json", "sarif", "github")
_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_GITHUB_SHOWN = 10
_FALLBACK_URL = "https://pypi.org/project/bastion/"


@cache
def tool_version() -> str:
    """The installed bastion version ("unknown" when run from an uninstalled tree)."""
    try:
        return metadata.version("bastion")
    except metadata.PackageNotFoundError:
        return "unknown"


@cache
def docs_url() -> str | None:
    """The ``Documentation`` project URL of the installed package, if it declares one."""
    try:
        urls: list[str] = metadata.metadata("bastion").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in {"documentation", "docs"} and url.strip():
            return url.strip().rstrip("/")
    return None


def help_uri(rule: type[Rule]) -> str:
    """Where a rule is documented: its section of checks.md (the PyPI page without docs)."""
    base = docs_url()
    anchor = f"{rule.code.lower()}-{rule.name}"
    return f"{base}/checks.md#{anchor}" if base else f"{_FALLBACK_URL}#{anchor}"


def summary(report: Report) -> dict[str, object]:
    """Counts of a run: active findings (total and per rule), suppressions, files, lines."""
    active = report.active
    kinds = Counter(f.suppression.kind for f in report.findings if f.suppression is not None)
    return {
        "findings": len(active),
        "by_rule": dict(sorted(Counter(f.rule for f in active).items())),
        "suppressed": dict(sorted(kinds.items())),
        "files": report.files,
        "lines": report.lines,
        "passed": not active,
        "version": tool_version(),
    }


def render(report: Report, fmt: str, rules: dict[str, type[Rule]]) -> str:
    """The report in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        findings = [f.as_dict() for f in report.active]
        return json.dumps({"findings": findings, "summary": summary(report)}, indent=2)
    if fmt == "sarif":
        return json.dumps(sarif(report, rules), indent=2)
    if fmt == "github":
        return github(report)
    return text(report, rules)


def _line(f: Finding) -> str:
    return f"{f.path}:{f.line}:{f.col} {f.code} {f.rule} {f.message}"


def text(report: Report, rules: dict[str, type[Rule]]) -> str:
    """``path:line:col CODE name message`` lines, then a per-rule PASSED/FAILED summary."""
    active = report.active
    out = [_line(f) for f in active]
    if out:
        out.append("")
    failed = Counter(f.rule for f in active)
    names: dict[str, list[str]] = {}
    for code in sorted(report.enabled):
        names.setdefault(rules[code].name, []).append(code)
    if failed["parse-error"]:
        names = {"parse-error": ["BAS000"], **names}
    width = max((len(n) for n in names), default=0)
    for name, codes in names.items():
        status = f"FAILED ({failed[name]})" if failed[name] else "PASSED"
        out.append(f"Checking {name:<{width}} [{codes[0][:4]}xx] ... {status}")
    kinds = Counter(f.suppression.kind for f in report.findings if f.suppression is not None)
    suppressed = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    verdict = "FAILED" if active else "PASSED"
    out.append(
        f"{len(active)} finding(s) in {report.files} file(s), {report.lines} lines; "
        f"suppressed: {suppressed}. {verdict}"
    )
    return "\n".join(out)


def _rule_entry(rule: type[Rule]) -> dict[str, object]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.explanation.strip().split("\n\n")[0]},
        "help": {"text": rule.explanation.strip()},
        "helpUri": help_uri(rule),
        "properties": {"tags": [rule.name]},
        "defaultConfiguration": {"level": "error"},
    }


def _result(finding: Finding, index: dict[str, int]) -> dict[str, object]:
    region: dict[str, int] = {"startLine": finding.line, "startColumn": finding.col}
    if finding.end_line is not None and finding.end_col is not None:
        region.update(endLine=finding.end_line, endColumn=finding.end_col)
    result: dict[str, object] = {
        "ruleId": finding.code,
        "level": "error",
        "message": {"text": f"{finding.rule}: {finding.message}"},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
            "region": region,
        }}],
        "partialFingerprints": {"bastionFingerprint/v1": finding.fingerprint},
        "properties": {"rule": finding.rule, "symbol": finding.symbol},
    }  # fmt: skip
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    if finding.suppression is not None:
        kind = "inSource" if finding.suppression.kind == "inline" else "external"
        result["suppressions"] = [{
            "kind": kind, "status": "accepted",
            "justification": f"{finding.suppression.kind}: {finding.suppression.justification}",
        }]  # fmt: skip
    return result


def sarif(report: Report, rules: dict[str, type[Rule]]) -> dict[str, object]:
    """A SARIF 2.1.0 log; suppressed findings are included with their justification."""
    codes = sorted(report.enabled | {f.code for f in report.findings} & set(rules))
    index = {code: i for i, code in enumerate(codes)}
    driver = {
        "name": "bastion-check",
        "version": tool_version(),
        "informationUri": f"{docs_url()}/checks.md" if docs_url() else _FALLBACK_URL,
        "rules": [_rule_entry(rules[c]) for c in codes],
    }
    return {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "invocations": [{"executionSuccessful": True}],
            "columnKind": "unicodeCodePoints",
            "results": [_result(f, index) for f in report.findings],
        }],
    }  # fmt: skip


def _escape(value: str, *, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def github(report: Report) -> str:
    """``::error`` workflow commands, one per finding, and a closing notice."""
    out = []
    for f in report.active:
        props = f"file={_escape(f.path, prop=True)},line={f.line},col={f.col}"
        if f.end_line is not None and f.end_col is not None:
            props += f",endLine={f.end_line},endColumn={f.end_col}"
        props += f",title={_escape(f'{f.code} {f.rule}', prop=True)}"
        out.append(f"::error {props}::{_escape(f.message)}")
    count = len(report.active)
    note = f"bastion check: {count} finding(s) in {report.files} file(s)"
    if count > _GITHUB_SHOWN:
        note += (
            " (GitHub shows only the first 10 annotations per step: see the text or SARIF output)"
        )
    out.append(f"::notice title=bastion check::{note}")
    return "\n".join(out)
