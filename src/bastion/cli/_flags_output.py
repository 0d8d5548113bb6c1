"""How ``bastion flags`` prints: JSON (``--json``), a rich table, or aligned plain text.

``rich`` is optional (the ``cli`` extra); without it the same rows print as plain text.
The JSON forms: ``list`` → ``{"flags": [flag + "version"], "quarantined": [...]}``;
``get`` → the flag (``flag_to_dict``) plus ``"version"``; ``set`` → the journal entry;
``history`` → ``{"key": ..., "changes": [entry, ...]}``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

import click

from bastion.cli._table import print_table
from bastion.flags import Flag, FlagChange, QuarantinedFlag, flag_to_dict

__all__ = ["Output"]


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _state(flag: Flag) -> str:
    if not flag.enabled:
        return "KILLED"
    if flag.canary is None:
        return "on"
    return f"{flag.percentage:g}% {flag.canary}"


def _brief(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


class Output:
    """Renders one command's result on stdout."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def _json(self, data: Any) -> None:
        click.echo(json.dumps(data, sort_keys=True))

    def flag_list(
        self, flags: list[tuple[Flag, int]], quarantined: Sequence[QuarantinedFlag]
    ) -> None:
        """``bastion flags list``."""
        if self.as_json:
            self._json(
                {
                    "flags": [{**flag_to_dict(f), "version": v} for f, v in flags],
                    "quarantined": [
                        {"key": q.key, "namespace": q.namespace, "reason": q.reason, "at": q.at}
                        for q in quarantined
                    ],
                }
            )
            return
        rows: list[Sequence[str]] = [
            (f.key, _state(f), f.default, str(len(f.rules)), str(v), f.description[:40])
            for f, v in flags
        ]
        rows += [(q.key, "QUARANTINED", "-", "-", "-", q.reason[:40]) for q in quarantined]
        header = ("flag", "serving", "default", "rules", "version", "description")
        print_table(f"{len(flags)} flag(s), {len(quarantined)} quarantined", header, rows)

    def flag(self, flag: Flag, version: int) -> None:
        """``bastion flags get``."""
        data = {**flag_to_dict(flag), "version": version}
        if self.as_json:
            self._json(data)
            return
        rows = [(name, _brief(value)) for name, value in data.items()]
        print_table(f"flag {flag.key}", ("field", "value"), rows)

    def change(self, change: FlagChange) -> None:
        """``bastion flags set``."""
        if self.as_json:
            self._json(change.as_dict())
            return
        what = change.changed_fields() or {"defined": (None, _state(change.after))}
        rows = [(name, _brief(old), _brief(new)) for name, (old, new) in what.items()]
        title = f"{change.key}: change {change.seq} ({change.action.value}) by {change.actor}"
        print_table(title, ("field", "before", "after"), rows)

    def history(self, key: str, changes: Sequence[FlagChange]) -> None:
        """``bastion flags history``."""
        if self.as_json:
            self._json({"key": key, "changes": [c.as_dict() for c in changes]})
            return
        rows = [
            (
                str(c.seq),
                _when(c.at),
                c.actor,
                c.action.value,
                ", ".join(
                    f"{k}: {_brief(a)} → {_brief(b)}" for k, (a, b) in c.changed_fields().items()
                )
                or _state(c.after),
                c.reason,
            )
            for c in changes
        ]
        print_table(f"history of {key}", ("#", "when", "actor", "action", "change", "reason"), rows)
