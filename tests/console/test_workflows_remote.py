"""``bastion workflows`` with ``--url``: a running node's engine lists, reads and acts
(the console audits the actions); errors keep their exit statuses."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from bastion.cli._main import _register_workflows, cli
from bastion.cli._remote import EXIT_REMOTE, RemoteConsole
from bastion.cli._workflows import EXIT_NOT_FOUND, EXIT_REFUSED
from tests.console._live import live_node


def run(*args: str) -> Result:
    _register_workflows()
    return CliRunner().invoke(cli, list(args))


def ok(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_workflows_read_and_act_on_a_running_node() -> None:
    with live_node() as node:
        remote = ("--url", node.url, "--token", node.token)
        listed = ok("workflows", "list", *remote)
        assert [w["id"] for w in listed["workflows"]] == ["wf-waiting", "wf-failed", "wf-done"]
        failed = ok("workflows", "list", "--status", "failed", "--since", "1h", *remote)
        assert [w["id"] for w in failed["workflows"]] == ["wf-failed"]
        assert ok("workflows", "get", "wf-done", *remote)["result"] == "value of a"
        steps = ok("workflows", "steps", "wf-failed", *remote)["steps"]
        assert [(s["name"], s["status"]) for s in steps] == [
            ("lookup", "completed"),
            ("refuse", "failed"),
        ]
        cancelled = ok("workflows", "cancel", "wf-waiting", "--reason", "stale", *remote)
        assert cancelled["status"] == "cancelled"
        forked = ok("workflows", "retry", "wf-done", "--from-step", "0", "--new-id", "again",
                    *remote)  # fmt: skip
        assert forked["forked_from"] == "wf-done"
        assert forked["status"] in ("running", "completed")  # the node runs it at once
        refused = run("workflows", "resume", "wf-done", *remote)
        assert refused.exit_code == EXIT_REFUSED, refused.output
        assert refused.output.count("\n") == 1
        unknown = run("workflows", "get", "nope", *remote)
        assert unknown.exit_code == EXIT_NOT_FOUND, unknown.output
        assert "no workflow 'nope'" in unknown.output
        wrong = run("workflows", "cancel", "wf-failed", "--url", node.url, "--token", "x" * 20)
        assert wrong.exit_code == EXIT_REMOTE, wrong.output
        entries = RemoteConsole(node.url, node.token, {}).get("api/audit")["entries"]
        actions = [(e["action"], e["target"], e["outcome"]) for e in entries]
        assert ("workflow.cancel", "wf-waiting", "ok") in actions
        assert ("workflow.resume", "wf-done", "failed") in actions
