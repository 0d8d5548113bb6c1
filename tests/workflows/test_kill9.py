"""``kill -9`` of a process running workflows with durable sleeps, retries, messages and a
schedule, three times at different points, then one process drains the rest (real
clock, SQLite): no acknowledged workflow is lost, no step runs again once a later step
of its workflow began, every message is received once, sleeps wake no earlier than
stored, and the schedule neither doubles nor silently skips a tick."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bastion.persistence import SQLiteStore
from bastion.workflows import StepKind, WorkflowStatus, inspect
from bastion.workflows._schedule_state import read_schedules
from tests._child import read_until, start_node

NODE = Path(__file__).with_name("_crash_node.py")
LIMIT = 60.0  # real seconds per child phase; a passing phase takes about a second
COUNT = 60  # jobs started per phase
KILL_AFTER = (20, 47, 33)  # acknowledgements of each phase before its kill -9
ORDER = ("a", "flaky", "c")


def _run_and_kill(db: Path, side: Path, phase: int) -> set[str]:
    node = start_node(NODE, str(db), str(side), "run", str(phase), str(COUNT))
    last = f"ACK job-{phase * COUNT + KILL_AFTER[phase]}"
    lines = read_until(node, last, time.monotonic() + LIMIT)
    node.send_signal(signal.SIGKILL)
    node.wait(timeout=LIMIT)
    return {line.split()[1] for line in lines if line.startswith("ACK")}


def _side_lines(side: Path) -> list[tuple[str, str]]:
    return [tuple(line.split()[:2]) for line in side.read_text().splitlines()]


def _redone_not_in_flight(side: Path) -> list[tuple[str, str, str]]:
    """Step executions repeated in a later process although they were not the last thing
    their workflow (or tick, or received value) did in the earlier one: a step that ran
    again after its result was recorded. A failed first attempt (``flaky-fail``) is not
    a result: each process fails it once by design."""
    by_key: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for line in side.read_text().splitlines():
        step, key, pid = line.split()[:3]
        if step == "got":  # the collector's steps, one per received value
            by_key[("collector", "")].append((f"got {key}", pid))
        elif step != "flaky-fail":
            by_key[(step if step == "tick" else "job", key)].append((step, pid))
    wrong: list[tuple[str, str, str]] = []
    for (_, key), runs in by_key.items():
        last_in = {pid: step for step, pid in runs}  # the last step each process ran
        for i, (step, pid) in enumerate(runs):
            again = any(s == step and p != pid for s, p in runs[i + 1 :])
            if again and last_in[pid] != step:
                wrong.append((key, step, pid))
    return wrong


async def _stored(db: Path) -> tuple[Any, Any, Any, Any]:
    async with await SQLiteStore.open(db) as store:
        workflows = inspect(store)
        jobs = {w.id: w for w in await workflows.list(name="crash.job")}
        steps = {wid: list(await workflows.steps(wid)) for wid in jobs}
        received = [s.result for s in await workflows.steps("collector") if s.name == "got"]
        ticks = await workflows.list(name="crash.tick")
        [(_, schedule)] = await read_schedules(store)
        return jobs, steps, received, (ticks, schedule)


def test_kill_9_loses_no_acknowledged_workflow_and_redoes_no_recorded_step(
    tmp_path: Path,
) -> None:
    db, side = tmp_path / "wf.db", tmp_path / "side.log"
    acked: set[str] = set()
    for phase in range(len(KILL_AFTER)):
        acked |= _run_and_kill(db, side, phase)
    drained = start_node(NODE, str(db), str(side), "drain")
    read_until(drained, "DONE", time.monotonic() + LIMIT)
    assert drained.wait(timeout=LIMIT) == 0

    jobs, steps, received, (ticks, schedule) = asyncio.run(_stored(db))
    # 0 acknowledged workflows lost, each with the right result
    assert acked <= jobs.keys()
    for wid, info in jobs.items():
        i = int(wid.removeprefix("job-"))
        assert info.status is WorkflowStatus.COMPLETED, (wid, info)
        assert info.result == (i * 3 + 1) * 2

    # no step ran again once a later step of its workflow had begun (it was recorded)
    executions: dict[str, list[str]] = defaultdict(list)
    for step, key in _side_lines(side):
        if step in ORDER:
            executions[key].append(step)
    for key, seen in executions.items():
        for earlier, later in itertools.pairwise(ORDER):
            if later in seen:
                first_later = seen.index(later)
                assert earlier not in seen[first_later:], (key, seen)
    assert _redone_not_in_flight(side) == []  # only a step in flight at a kill ran again

    # sleeps woke no earlier than their stored time; retries waited their stored delay
    for wid, recorded in steps.items():
        sleep = next(s for s in recorded if s.kind is StepKind.SLEEP)
        after = next(s for s in recorded if s.name == "flaky")
        assert after.started_at >= sleep.not_before - 1e-3, wid

    # every finished job's message was received once, none twice
    assert sorted(received) == sorted(int(w.removeprefix("job-")) for w in jobs)

    # the schedule: every tick from its start to its cursor was started once or counted
    interval = 0.2
    elapsed = round((schedule.cursor - schedule.anchor) / interval)
    started = schedule.started
    assert started + schedule.skipped_missed + schedule.skipped_paused == elapsed
    assert len(ticks) == started
    assert started > 0
    ran = Counter(key for step, key in _side_lines(side) if step == "tick")
    assert len(ran) == started  # each started tick ran...
    assert sum(ran.values()) - len(ran) <= len(KILL_AFTER)  # ...again only if killed mid-step
