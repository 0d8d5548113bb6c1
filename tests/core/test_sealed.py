"""The kernel is sealed: its bookkeeping is private, the public objects are the API."""

from __future__ import annotations

from pathlib import Path

import bastion
import bastion.testing

TESTING = Path(bastion.testing.__file__).parent

# Formerly public, documented "(kernel use)": now behind the runtime's private interface.
KERNEL_NAMES = {
    "Runtime": (
        "busy",
        "late_replies",
        "spawn_cell",
        "stop_cell",
        "forget",
        "notify_idle",
        "note_call_timeout",
        "note_mailbox_full",
        "note_restart",
        "note_escalation",
        "wait_future",
        "in_actor",
    ),
    "ActorRef": ("resolve", "resolve_or_none"),
    "Registry": ("claim", "release", "cell"),
    "DeadLetters": ("add",),
}


async def test_kernel_bookkeeping_is_not_part_of_the_public_objects() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(bastion.Actor)
        objects = {
            "Runtime": rt,
            "ActorRef": ref,
            "Registry": rt.registry,
            "DeadLetters": rt.dead_letters,
        }
        for kind, names in KERNEL_NAMES.items():
            public = {n for n in dir(objects[kind]) if not n.startswith("_")}
            assert public.isdisjoint(names), f"{kind} exposes {public & set(names)}"
        await ref.stop()


class Sink(bastion.Actor):
    def handle_cast(self, message: object) -> None:
        pass


async def test_quiescence_and_late_replies_are_read_through_statistics() -> None:
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Sink)
        assert rt.statistics().busy_actors == 0
        ref.cast_nowait("hello")  # wakes the dormant actor: busy until it parks again
        assert rt.statistics().busy_actors == 1
        assert not ref.statistics().parked
        await rt.wait_idle(timeout=1.0)
        assert rt.statistics().busy_actors == 0
        assert ref.statistics().parked
        assert rt.statistics().late_replies == 0
        await ref.stop()
        assert rt.statistics().busy_actors == 0


def test_the_test_toolkit_reads_actors_through_the_public_objects_only() -> None:
    for path in sorted(TESTING.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for internal in ("._resolve", "cell.", "_bastion_cell", "_core._cell"):
            assert internal not in text, f"{path.name} reads kernel state ({internal})"
