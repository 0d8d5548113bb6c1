"""``bastion top``: read a node's console API and draw a frame (Rich when installed).

Only the standard library talks HTTP here (``urllib``), with a deadline on every request.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bastion._core._errors import BastionError

__all__ = ["ConsoleUnreachable", "Frame", "fetch_frame", "render_plain", "run_top"]

REQUEST_TIMEOUT = 5.0


class ConsoleUnreachable(BastionError):
    """The console did not answer, or refused the token."""


@dataclass(frozen=True, slots=True)
class Frame:
    """What one refresh of ``bastion top`` shows."""

    overview: dict[str, Any]
    actors: list[dict[str, Any]]
    supervisors: list[dict[str, Any]]
    rollouts: list[dict[str, Any]] | None


def _get(base: str, path: str, token: str | None) -> Any:
    request = urllib.request.Request(base.rstrip("/") + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise ConsoleUnreachable(f"{base} answered {exc.code} for {path}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ConsoleUnreachable(f"cannot reach the console at {base}: {exc}") from None


def fetch_frame(base: str, token: str | None, lines: int) -> Frame:
    """Read the overview, the busiest actors, the supervisors and the rollouts."""
    overview = _get(base, "/api/overview", token)
    if overview is None:
        raise ConsoleUnreachable(f"{base} is not a Bastion console (no /api/overview)")
    actors = _get(base, f"/api/actors?sort=rate&limit={lines}", token)["items"]
    tree = _get(base, "/api/tree", token)
    supervisors = sorted(tree["supervisors"], key=lambda s: (-s["restarts"], s["id"]))
    rollouts = _get(base, "/api/rollouts", token)
    return Frame(overview, actors, supervisors, None if rollouts is None else rollouts["items"])


def _header(o: dict[str, Any]) -> str:
    r = o["runtime"]
    health = o["health"]
    drivers = f" ({', '.join(health['drivers'])})" if health["drivers"] else ""
    return (
        f"bastion {o['node']['version']}  pid {o['node']['pid']}  up {o['node']['uptime']:.0f}s  "
        f"actors {r['actors']}  busy {r['busy_actors']}  restarts {r['restarts']}  "
        f"dead letters {r['dead_letters']['size']}  calls/s {o['point']['calls_per_second']:.1f}  "
        f"health {health['status'] or 'n/a'}{drivers}"
    )


def _rollout_line(rollout: dict[str, Any]) -> str:
    phases = rollout.get("phases") or []
    reason = f" ({rollout['reason']})" if rollout.get("reason") else ""
    return (
        f"rollout {rollout['flag']}: {rollout['status']}, phase {rollout['phase'] + 1}/"
        f"{len(phases)}, {rollout['percent']:g} % exposed, canary calls "
        f"{rollout['phase_canary_calls']}/{rollout['min_canary_calls']}{reason}"
    )


def render_plain(frame: Frame) -> str:
    """The frame as plain text (no Rich, or not a terminal)."""
    out = [_header(frame.overview), "", "busiest actors:"]
    out.append(f"  {'id':>6} {'name':<22} {'class':<22} {'state':<7} {'mbox':>5} {'msg/s':>8}")
    for a in frame.actors:
        out.append(
            f"  {a['id']:>6} {(a['name'] or '-')[:22]:<22} {a['actor_class'][:22]:<22} "
            f"{a['state']:<7} {a['mailbox_depth']:>5} {a['rate']:>8.1f}"
        )
    out += ["", "supervisors:"]
    for s in frame.supervisors[:10]:
        out.append(
            f"  {s['id'][:24]:<24} {s['strategy']:<13} {s['alive_children']}/{s['children']} up  "
            f"restarts {s['restarts']}  intensity {s['intensity_used'] * 100:.0f}%"
        )
    if frame.rollouts:
        out += ["", *(_rollout_line(r) for r in frame.rollouts)]
    return "\n".join(out)


def _render_rich(frame: Frame) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    actors = Table(title="busiest actors (messages/s)", expand=True)
    for column in ("id", "name", "class", "state", "mailbox", "msg/s", "processed", "supervisor"):
        actors.add_column(
            column, justify="right" if column in ("id", "mailbox", "msg/s", "processed") else "left"
        )
    for a in frame.actors:
        where = f"{a['supervisor']}/{a['child_id']}" if a["supervisor"] else "-"
        actors.add_row(
            str(a["id"]),
            a["name"] or "-",
            a["actor_class"],
            a["state"],
            str(a["mailbox_depth"]),
            f"{a['rate']:.1f}",
            str(a["processed"]),
            where,
        )
    sups = Table(title="supervisors", expand=True)
    for column in ("supervisor", "strategy", "up", "restarts", "intensity used"):
        sups.add_column(column)
    for s in frame.supervisors[:10]:
        style = "red" if s["intensity_used"] >= 0.8 else ("yellow" if s["restarts"] else "")
        sups.add_row(
            s["id"],
            s["strategy"],
            f"{s['alive_children']}/{s['children']}",
            str(s["restarts"]),
            f"{s['intensity_used'] * 100:.0f}%",
            style=style,
        )
    parts: list[Any] = [Text(_header(frame.overview), style="bold"), actors, sups]
    if frame.rollouts:
        parts += [Text(_rollout_line(r)) for r in frame.rollouts]
    return Group(*parts)


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def run_top(base: str, token: str | None, *, interval: float, lines: int, once: bool) -> None:
    """Refresh every ``interval`` seconds until Ctrl-C (one frame with ``once``)."""
    if once or not _has_rich():
        while True:
            print(render_plain(fetch_frame(base, token, lines)), flush=True)
            if once:
                return
            time.sleep(interval)
            print()
    from rich.console import Console
    from rich.live import Live

    with Live(_render_rich(fetch_frame(base, token, lines)), console=Console()) as live:
        while True:
            time.sleep(interval)
            live.update(_render_rich(fetch_frame(base, token, lines)))
