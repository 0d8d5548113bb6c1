"""How ``bastion rollout`` prints: JSON (``--json``), rich tables, or plain text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import msgspec

from bastion.cli._table import print_table
from bastion.rollout import Evidence, JournalEntry
from bastion.rollout._orchestrator import RolloutStatus
from bastion.rollout._preflight import PreflightReport

__all__ = ["RolloutOutput"]


def _plain(value: Any) -> Any:
    return msgspec.to_builtins(value)


class RolloutOutput:
    """Renders one command's result on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def _json(self, data: Any) -> None:
        click.echo(json.dumps(_plain(data), sort_keys=True))

    def report(self, report: PreflightReport) -> None:
        """``preflight`` (and a refused ``start``)."""
        if self.as_json:
            self._json(
                {
                    "ok": report.ok,
                    "summary": report.summary,
                    "checks": [r.__dict__ for r in report.results],
                }
            )
            return
        for line in report.lines():
            click.echo(line)

    def status(self, status: RolloutStatus) -> None:
        """``status`` and every control command."""
        if self.as_json:
            self._json(status)
            return
        phases = " → ".join(
            f"[{p:g}]" if i == status.phase else f"{p:g}" for i, p in enumerate(status.phases)
        )
        rows = [
            ("status", status.status),
            ("attempt", str(status.attempt)),
            ("phases (%)", phases),
            ("exposure", f"{status.percent:g} %"),
            ("canary calls in phase", f"{status.phase_canary_calls} / {status.min_canary_calls}"),
            ("reason", status.reason or "-"),
            ("journal entries", str(status.journal_length)),
        ]
        print_table(f"rollout of {status.flag}", ("", ""), rows)

    def why(self, entry: JournalEntry | None, evidence: Sequence[Evidence]) -> None:
        """``why``: the last decision and the evidence it rests on."""
        if self.as_json:
            self._json({"decision": entry, "evidence": list(evidence)})
            return
        if entry is not None:
            click.echo(
                f"{entry.action} by {entry.actor} at phase {entry.phase + 1} "
                f"({entry.percent:g} %): {entry.reason or '-'}"
            )
        rows = [
            (
                e.signal,
                f"{e.statistic:.2f}",
                f"{e.threshold:.2f}",
                f"{e.alpha:g}",
                f"{e.p_value:.3g}",
                f"{e.canary_events}/{e.canary_exposure}",
                f"{e.baseline_events}/{e.baseline_exposure}",
                "ALARM" if e.alarm else "ok",
            )
            for e in evidence
        ]
        header = (
            "signal",
            "log LR",
            "threshold",
            "alpha",
            "p (always valid)",
            "canary events/calls",
            "baseline events/calls",
            "",
        )
        print_table("evidence", header, rows)

    def history(self, flag: str, entries: Sequence[JournalEntry]) -> None:
        """``history``: the journal, oldest first."""
        if self.as_json:
            self._json({"flag": flag, "entries": list(entries)})
            return
        rows = [
            (
                str(e.seq),
                f"{e.at:.1f}",
                str(e.attempt),
                e.action,
                e.actor,
                f"{e.from_status} → {e.to_status}",
                f"{e.percent:g} %",
                e.reason,
            )
            for e in entries
        ]
        header = ("#", "at (s)", "try", "action", "actor", "status", "exposure", "reason")
        print_table(f"journal of the rollout of {flag}", header, rows)
