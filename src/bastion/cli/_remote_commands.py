"""``bastion flags`` and ``bastion rollout`` with ``--url``: the console API's reads and
actions, shown exactly as the ``--db`` mode shows them (same tables, same ``--json``)."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
import msgspec

from bastion.cli._flags_output import Output
from bastion.cli._remote import RemoteConsole, RemoteFailure
from bastion.cli._rollout_output import RolloutOutput
from bastion.flags import Flag, FlagChange
from bastion.flags._journal import FlagDataError, decode_change, flag_from_dict
from bastion.rollout import Evidence, JournalEntry
from bastion.rollout._orchestrator import RolloutStatus

__all__ = ["FlagsRemote", "RolloutRemote"]

#: The most history entries one command asks the console for (its own limit).
HISTORY_LIMIT = 10_000


def _fail(command: str, failure: RemoteFailure) -> NoReturn:
    click.echo(f"bastion {command}: error: {failure.message}", err=True)
    sys.exit(failure.status)


def _operator(actor: str) -> str:
    return actor[:100] or "cli"


class FlagsRemote:
    """``bastion flags list|get|history|set --url``: exit statuses as with ``--db``."""

    def __init__(self, url: str, token: str | None, as_json: bool) -> None:
        # 404 no such flag (1); 400/422 a bad value (2); 409/503 refused or not stored (3)
        statuses = {404: 1, 400: 2, 413: 2, 415: 2, 422: 2, 409: 3, 503: 3}
        self.console = RemoteConsole(url, token, statuses)
        self.out = Output(as_json)

    def _flag(self, data: dict[str, Any]) -> tuple[Flag, int]:
        version = int(data.pop("version", 0))
        try:
            return flag_from_dict(data, f"flag {data.get('key')!r} from the console"), version
        except FlagDataError as exc:
            raise RemoteFailure(str(exc), 7) from None

    def _change(self, data: dict[str, Any]) -> FlagChange:
        try:
            return decode_change(msgspec.json.encode(data), data["key"], data["seq"])
        except (FlagDataError, KeyError) as exc:
            raise RemoteFailure(f"a change from the console is unreadable: {exc}", 7) from None

    def list(self) -> None:
        """Every flag the node's Flags service holds."""
        try:
            answer = self.console.get("api/flags")
            if not answer.get("available"):
                raise RemoteFailure("the node's console was given no Flags service", 1)
            listed = [self._flag(item) for item in answer["items"]]
        except RemoteFailure as failure:
            _fail("flags", failure)
        self.out.flag_list(listed, [])

    def get(self, key: str) -> None:
        """One flag and its version."""
        try:
            flag, version = self._flag(self.console.get(f"api/flags/{key}", limit=1)["flag"])
        except RemoteFailure as failure:
            _fail("flags", failure)
        self.out.flag(flag, version)

    def history(self, key: str) -> None:
        """The flag's change journal, oldest first (as ``--db`` prints it)."""
        try:
            answer = self.console.get(f"api/flags/{key}", limit=HISTORY_LIMIT)
            changes = [self._change(c) for c in reversed(answer["history"])]
        except RemoteFailure as failure:
            _fail("flags", failure)
        self.out.history(key, changes)

    def set(self, key: str, changes: dict[str, Any], actor: str, reason: str) -> None:
        """Set the canary percentage and/or the kill switch (what the console API changes)."""
        unsupported = sorted(set(changes) - {"percentage", "enabled"})
        if unsupported or not changes:
            raise click.UsageError(
                "through --url only --percentage and --enable/--disable can be set "
                f"(not {', '.join(unsupported) or 'nothing'}); use --db for the rest"
            )
        body: dict[str, Any] = {"why": reason, "operator": _operator(actor), **changes}
        try:
            answer = self.console.post(f"api/flags/{key}", body)
            applied = [self._change(c) for c in answer["changes"]]
        except RemoteFailure as failure:
            _fail("flags", failure)
        if not applied:
            _fail("flags", RemoteFailure("the console made no change", 3))
        self.out.change(applied[-1])


class RolloutRemote:
    """``bastion rollout status|why|history|<action> --url``: the node's own orchestrator."""

    def __init__(self, url: str, token: str | None, as_json: bool) -> None:
        # 404 no rollout of that flag runs there (1); 422 a bad body (2); 409 refused (6)
        statuses = {404: 1, 400: 2, 413: 2, 415: 2, 422: 2, 409: 6, 503: 3}
        self.console = RemoteConsole(url, token, statuses)
        self.out = RolloutOutput(as_json)

    def _read(self, flag: str, limit: int) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = self.console.get(f"api/rollouts/{flag}", limit=limit)
            return answer
        except RemoteFailure as failure:
            _fail("rollout", failure)

    @staticmethod
    def _convert(value: Any, kind: Any) -> Any:
        try:
            return msgspec.convert(value, kind)
        except msgspec.ValidationError as exc:
            _fail("rollout", RemoteFailure(f"the console answered an unreadable {exc}", 7))

    def status(self, flag: str) -> None:
        """Where the rollout is."""
        self.out.status(self._convert(self._read(flag, 1)["status"], RolloutStatus))

    def why(self, flag: str) -> None:
        """The last decision and each signal's evidence."""
        answer = self._read(flag, 1)
        entries = self._convert(answer["journal"], list[JournalEntry])
        entry = entries[-1] if entries else None
        evidence = self._convert(answer["evidence"], list[Evidence])
        self.out.why(entry, entry.evidence if entry is not None and entry.evidence else evidence)

    def history(self, flag: str) -> None:
        """The rollout's journal, oldest first."""
        answer = self._read(flag, HISTORY_LIMIT)
        self.out.history(flag, self._convert(answer["journal"], list[JournalEntry]))

    def act(self, flag: str, action: str, actor: str, reason: str, force: bool) -> None:
        """pause / resume / promote / rollback / retry, performed by the node."""
        body: dict[str, Any] = {
            "why": reason or f"{action} from the command line",
            "operator": _operator(actor),
        }
        if force:
            body["force"] = True
        try:
            answer = self.console.post(f"api/rollouts/{flag}/{action}", body)
        except RemoteFailure as failure:
            _fail("rollout", failure)
        if "status" not in answer:
            _fail("rollout", RemoteFailure(f"{action} was done; the rollout did not answer", 3))
        self.out.status(self._convert(answer["status"], RolloutStatus))
