"""Baselines: findings accepted as existing debt, matched by fingerprint and count."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from bastion.checks._config import ConfigError
from bastion.checks._model import Finding, Suppression

__all__ = ["Baseline"]

_VERSION = 1


@dataclass(slots=True)
class Baseline:
    """Accepted debt: how many findings with each fingerprint are tolerated.

    A baseline is for adopting the checker on existing code, never a justification:
    baselined findings are reported as debt in the summary, and new ones still fail.
    """

    counts: Counter[str] = field(default_factory=Counter)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path) -> Baseline:
        """Read a baseline file written by :meth:`write` (ConfigError if malformed)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != _VERSION:
                raise ConfigError(f"{path}: unsupported baseline version {data.get('version')!r}")
            counts = Counter({str(e["fingerprint"]): int(e["count"]) for e in data["findings"]})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}: cannot read baseline: {exc}") from exc
        return cls(counts, path)

    @staticmethod
    def write(path: Path, findings: list[Finding]) -> int:
        """Write the active findings as a baseline; returns how many were recorded."""
        counts = Counter(f.fingerprint for f in findings)
        first: dict[str, Finding] = {}
        for finding in findings:
            first.setdefault(finding.fingerprint, finding)
        entries = [
            {"fingerprint": fp, "count": n, "code": first[fp].code, "rule": first[fp].rule,
             "path": first[fp].path, "symbol": first[fp].symbol, "message": first[fp].message}
            for fp, n in sorted(counts.items(), key=lambda kv: first[kv[0]].sort_key())
        ]  # fmt: skip
        payload = {"version": _VERSION, "tool": "bastion check", "findings": entries}
        try:
            path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write baseline: {exc.strerror or exc}") from exc
        return len(findings)

    def apply(self, findings: list[Finding]) -> list[Finding]:
        """Mark findings covered by the baseline (each fingerprint up to its count)."""
        remaining = Counter(self.counts)
        result = []
        for finding in findings:
            if finding.suppression is None and remaining[finding.fingerprint] > 0:
                remaining[finding.fingerprint] -= 1
                finding = replace(finding, suppression=Suppression("baseline", "accepted debt"))
            result.append(finding)
        return result
