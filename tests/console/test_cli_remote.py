"""``bastion flags`` / ``bastion rollout`` with ``--url``: the same reads and actions
through a running node's console API (uvicorn on 127.0.0.1 in a child process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bastion.cli._main import _register_flags, _register_rollout, cli
from bastion.cli._remote import EXIT_REMOTE
from tests.console._live import live_node
from tests.console._node import FLAG


@pytest.fixture(autouse=True)
def registered() -> None:
    _register_flags()
    _register_rollout()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def ok(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_flags_and_rollout_read_and_act_on_a_running_node() -> None:
    with live_node() as node:
        remote = ("--url", node.url, "--token", node.token)
        listed = ok("flags", "list", *remote)
        assert [f["key"] for f in listed["flags"]] == [FLAG]
        change = ok("flags", "set", FLAG, "--percentage", "3", "--actor", "ana",
                    "--reason", "by hand", *remote)  # fmt: skip
        assert (change["action"], change["after"]["percentage"]) == ("set_percentage", 3.0)
        assert change["actor"] == "ana@127.0.0.1"
        assert ok("flags", "get", FLAG, *remote)["percentage"] == 3.0
        history = ok("flags", "history", FLAG, *remote)["changes"]
        assert history[-1]["reason"] == "by hand"
        status = ok("rollout", "status", FLAG, *remote)
        assert (status["flag"], status["status"]) == (FLAG, "running")
        paused = ok("rollout", "pause", FLAG, "--actor", "bob", *remote)
        assert paused["status"] == "paused"
        again = run("rollout", "pause", FLAG, *remote)
        assert again.exit_code == 6, again.output
        assert again.output.count("\n") == 1
        rolled = ok("rollout", "rollback", FLAG, "--reason", "incident 7", *remote)
        assert (rolled["status"], rolled["percent"]) == ("rolled_back", 0.0)
        journal = ok("rollout", "history", FLAG, *remote)["entries"]
        assert journal[-2]["actor"] == "bob@127.0.0.1"  # who, as the console recorded it
        assert journal[-1]["reason"] == "incident 7"
        why = ok("rollout", "why", FLAG, *remote)
        assert why["decision"]["reason"] == "incident 7"
        unknown = run("rollout", "status", "no-such-flag", *remote)
        assert unknown.exit_code == 1
        refused = run("flags", "set", FLAG, "--percentage", "1", "--reason", "x",
                      "--url", node.url)  # fmt: skip
        assert refused.exit_code == EXIT_REMOTE
        assert "refused the token" in refused.output
        assert refused.output.count("\n") == 1


def test_url_mode_errors_are_one_line_with_their_exit_status(tmp_path: Path) -> None:
    down = run("rollout", "status", FLAG, "--url", "http://127.0.0.1:9/")
    assert down.exit_code == EXIT_REMOTE
    assert "cannot reach the console at http://127.0.0.1:9/" in down.output
    assert down.output.count("\n") == 1
    both = run("flags", "list", "--db", str(tmp_path / "x.db"), "--url", "http://127.0.0.1:9/")
    assert both.exit_code == 2
    neither = run("flags", "list")
    assert neither.exit_code == 2
    create = run("flags", "set", "k", "--create", "--reason", "r", "--url", "http://127.0.0.1:9/")
    assert create.exit_code == 2
    rules = run("flags", "set", "k", "--rules", "[]", "--reason", "r", "--url", "http://x/")
    assert rules.exit_code == 2
    assert "only --percentage and --enable/--disable" in rules.output
