"""How ``bastion workflows`` prints: JSON (``--json``), a rich table, or aligned plain text.

Both modes (``--db`` and ``--url``) turn what they read into the console API's JSON
shapes first (:func:`bastion.workflows._inspect.info_json`), so they print alike. The JSON
forms: ``list`` → ``{"total": N, "workflows": [workflow, ...]}``; ``get`` and the actions
→ the workflow; ``steps`` → ``{"workflow_id": ..., "steps": [step, ...]}``.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import click

from bastion.cli._flags_output import Output
from bastion.cli._table import print_table

__all__ = ["WorkflowsOutput"]


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _brief(value: Any, width: int = 50) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=repr)
    return text if len(text) <= width else text[: width - 3] + "..."


class WorkflowsOutput(Output):
    """Renders one ``bastion workflows`` command's result on stdout."""

    def workflows(self, total: int, items: list[dict[str, Any]]) -> None:
        """``list``: newest first."""
        if self.as_json:
            self._json({"total": total, "workflows": items})
            return
        rows = [
            [
                w["id"], w["name"], w["version"], w["status"], _when(w["created_at"]),
                _when(w["updated_at"]), _brief(w["error"] or "", 40),
            ]
            for w in items
        ]  # fmt: skip
        title = f"{len(items)} of {total} workflows (newest first; times UTC)"
        header = ["ID", "NAME", "VERSION", "STATUS", "CREATED", "UPDATED", "ERROR"]
        print_table(title, header, rows)

    def workflow(self, w: dict[str, Any]) -> None:
        """``get`` and the actions: one workflow."""
        if self.as_json:
            self._json(w)
            return
        outcome = ("result", _brief(w["result"], 200)) if w["status"] == "completed" else None
        rows = [
            ("id", w["id"]), ("name", w["name"]), ("version", w["version"]),
            ("status", w["status"]), ("created", _when(w["created_at"]) + " UTC"),
            ("updated", _when(w["updated_at"]) + " UTC"),
        ]  # fmt: skip
        if w["deadline"] is not None:
            rows.append(("deadline", _when(w["deadline"]) + " UTC"))
        if outcome is not None:
            rows.append(outcome)
        if w["error"] is not None:
            rows.append(("error", w["error"]))
        if w["forked_from"] is not None:
            rows.append(("forked from", w["forked_from"]))
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            click.echo(f"{key.ljust(width)}  {value}")

    def steps(self, workflow_id: str, steps: list[dict[str, Any]]) -> None:
        """``steps``: by step number."""
        if self.as_json:
            self._json({"workflow_id": workflow_id, "steps": steps})
            return
        rows = [
            [
                str(s["step_no"]), s["name"], s["kind"], s["status"], str(s["attempts"]),
                _when(s["finished_at"] or s["not_before"]),
                _brief(s["error"] if s["error"] is not None else s["result"]),
            ]
            for s in steps
        ]  # fmt: skip
        header = ["NO", "NAME", "KIND", "STATUS", "ATTEMPTS", "FINISHED/DUE", "RESULT/ERROR"]
        print_table(f"workflow {workflow_id}: {len(steps)} recorded steps", header, rows)
