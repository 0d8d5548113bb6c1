"""Properties of the state machine under any sequence of manual actions, ticks and crashes."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

import bastion
from bastion.rollout import (
    CohortCounts,
    JournalEntry,
    RolloutError,
    RolloutMachine,
    RolloutPlan,
    RolloutState,
    TickCounts,
)

PLAN = RolloutPlan(flag="f", min_dwell=5.0, min_canary_calls=10)

steps = st.one_of(
    st.tuples(st.just("tick"), st.integers(0, 60), st.integers(0, 30), st.integers(0, 2)),
    st.tuples(st.sampled_from(["pause", "resume", "promote", "force", "rollback", "retry"])),
    st.tuples(st.just("crash")),
)


def _reload(machine: RolloutMachine) -> RolloutMachine:
    """What a restart restores: the state as persisted (JSON), not the object."""
    state = msgspec.json.decode(msgspec.json.encode(machine.state), type=RolloutState)
    again = RolloutMachine(PLAN, state)
    again.next_seq = machine.next_seq
    return again


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, max_size=60))
def test_no_sequence_promotes_a_phase_twice_or_loses_a_journal_entry(plan: list) -> None:
    machine = RolloutMachine(PLAN)
    journal: list[JournalEntry] = [machine.start(0.0, "ana")]
    now = 0.0
    for step in plan:
        now += 1.0
        kind = step[0]
        try:
            if kind == "tick":
                calls, errors, restarts = step[1], step[2], step[3]
                canary = CohortCounts(calls // 4, min(errors, calls // 4), 0, restarts)
                baseline = CohortCounts(calls, calls // 100)
                journal += machine.tick(TickCounts(now, canary, baseline))
            elif kind == "crash":
                machine = _reload(machine)
            elif kind == "force":
                journal.append(machine.promote(now, "bob", "hurry", force=True))
            elif kind == "promote":
                journal.append(machine.promote(now, "bob"))
            else:
                journal.append(getattr(machine, kind)(now, "bob", "because"))
        except (RolloutError, bastion.ValidationError):
            pass  # a refused action changes nothing and records nothing
        assert machine.percent in (0.0, *PLAN.phases)
        if machine.state.status.value in ("rolled_back", "aborted"):
            assert machine.percent == 0.0

    assert [e.seq for e in journal] == list(range(len(journal)))
    for attempt in {e.attempt for e in journal}:
        targets = [
            e.phase
            for e in journal
            if e.attempt == attempt
            and e.action in ("promote", "force_promote")
            and e.to_status != "promoted"
        ]
        assert targets == sorted(set(targets))  # each phase entered once, in order
        promoted = [e for e in journal if e.attempt == attempt and e.to_status == "promoted"]
        assert len(promoted) <= 1
