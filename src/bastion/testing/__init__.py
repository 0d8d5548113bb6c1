"""Test helpers for code built on Bastion: virtual time, quiescence, probes, fault injection.

The pytest plugin (entry point ``pytest11``) runs every ``async def`` test on a
:class:`VirtualTimeLoop`: time jumps to the next deadline whenever the loop is idle,
a deadlock fails with a dump instead of hanging, and ``BASTION_REAL_TIME=1`` runs the
same tests on the real clock. See ``docs/testing.md``.
"""

from __future__ import annotations

from bastion._public import publish
from bastion.testing._actors import (
    actor_state,
    drain_mailbox,
    mailbox_drained,
    sync_operation,
    wait_for_state,
)
from bastion.testing._capture import CapturedEvent, CapturedEvents, capture_events
from bastion.testing._clock import VirtualClock, settle
from bastion.testing._dump import add_introspector, describe_loop, describe_task
from bastion.testing._errors import DeadlockError, LeakError, TestTimeLimitExceeded, WaitTimeout
from bastion.testing._faults import FaultyStore, InjectedCrash, InjectedFault, crash, delay_handler
from bastion.testing._loop import VirtualTimeLoop
from bastion.testing._probe import ANY, Probe, Received, matches
from bastion.testing._run import REAL_TIME_ENV, new_loop, run, use_real_time
from bastion.testing._wait import DEFAULT_TIMEOUT, wait_for

__all__ = [
    "actor_state",
    "add_introspector",
    "ANY",
    "capture_events",
    "CapturedEvent",
    "CapturedEvents",
    "crash",
    "DeadlockError",
    "DEFAULT_TIMEOUT",
    "delay_handler",
    "describe_loop",
    "describe_task",
    "drain_mailbox",
    "FaultyStore",
    "InjectedCrash",
    "InjectedFault",
    "LeakError",
    "mailbox_drained",
    "matches",
    "new_loop",
    "Probe",
    "REAL_TIME_ENV",
    "Received",
    "run",
    "settle",
    "sync_operation",
    "TestTimeLimitExceeded",
    "use_real_time",
    "VirtualClock",
    "VirtualTimeLoop",
    "wait_for",
    "wait_for_state",
    "WaitTimeout",
]

publish(globals(), "bastion.testing")
