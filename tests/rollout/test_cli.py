"""``bastion rollout`` against a SQLite store file: the whole manual life of a rollout."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from bastion.cli._flags import flags_group
from bastion.cli._rollout import rollout_group

FLAG = "new-step"


def _rollout(*args: str) -> Result:
    return CliRunner().invoke(rollout_group, [*args], catch_exceptions=False)


def _db(tmp_path: Path) -> str:
    db = str(tmp_path / "node.db")
    done = CliRunner().invoke(
        flags_group,
        ["set", FLAG, "--create", "--db", db, "--reason", "new"],
        catch_exceptions=False,
    )
    assert done.exit_code == 0, done.output
    return db


def test_a_rollout_is_started_promoted_rolled_back_and_retried_from_the_cli(
    tmp_path: Path,
) -> None:
    db = _db(tmp_path)
    report = _rollout("preflight", FLAG, "--db", db, "--calls-per-second", "200", "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["ok"]

    started = _rollout(
        "start",
        FLAG,
        "--db",
        db,
        "--calls-per-second",
        "200",
        "--fit",
        "--actor",
        "ana",
        "--reason",
        "ship",
        "--json",
    )
    assert started.exit_code == 0, started.output
    assert json.loads(started.output)["percent"] == 1.0

    refused = _rollout("resume", FLAG, "--db", db)
    assert refused.exit_code == 6
    assert "only a paused rollout can resume" in refused.output

    promoted = _rollout("promote", FLAG, "--db", db, "--force", "--reason", "hotfix", "--json")
    assert json.loads(promoted.output)["percent"] == 5.0
    rolled = _rollout("rollback", FLAG, "--db", db, "--actor", "oncall", "--reason", "pager")
    assert rolled.exit_code == 0, rolled.output
    assert "rolled_back" in rolled.output
    percent = CliRunner().invoke(flags_group, ["get", FLAG, "--db", db, "--json"])
    assert json.loads(percent.output)["percentage"] == 0.0

    why = json.loads(_rollout("why", FLAG, "--db", db, "--json").output)
    assert why["decision"]["action"] == "manual_rollback"
    assert {e["signal"] for e in why["evidence"]} >= {"errors", "latency", "absolute"}
    history = json.loads(_rollout("history", FLAG, "--db", db, "--json").output)
    assert [e["action"] for e in history["entries"]] == [
        "start",
        "force_promote",
        "manual_rollback",
    ]
    assert history["entries"][2]["actor"] == "oncall"
    again = json.loads(_rollout("retry", FLAG, "--db", db, "--reason", "fixed", "--json").output)
    assert (again["attempt"], again["percent"]) == (2, 1.0)


def test_cli_errors_have_documented_exit_codes(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert _rollout("status", FLAG, "--db", str(tmp_path / "none.db")).exit_code == 3
    assert _rollout("status", FLAG, "--db", db).exit_code == 6  # nothing started
    assert _rollout("start", "nope", "--db", db).exit_code == 1
    low = _rollout("preflight", FLAG, "--db", db, "--calls-per-second", "2")
    assert low.exit_code == 5
    assert "needs a dwell of" in low.output
    assert "fix:" in low.output
    assert _rollout("start", FLAG, "--db", db, "--phases", "5,1,100").exit_code == 2
    assert _rollout("rollback", FLAG, "--db", db).exit_code == 2  # --reason is required
