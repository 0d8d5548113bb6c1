"""Framework-private attributes of agents live in slots (issue 15): an instance's
``__dict__`` keeps only declared state and public attributes, few enough for CPython
to share the class's dict keys; user subclasses still add attributes freely."""

from __future__ import annotations

import platform
import sys
import weakref
from typing import Any

import pytest

import bastion
from bastion.agents import Agent, PersistentAgent, Task, TaskAgent, act
from bastion.persistence import MemoryStore
from bastion.testing import actor_state, crash, wait_for

#: CPython 3.11 stops sharing a class's instance-dict keys past this many attributes.
SHARED_KEYS_MAX = 30


def _double(task: Task) -> Any:
    return task.payload * 2


async def test_a_task_agent_keeps_no_framework_private_attribute_in_its_dict() -> None:
    class Fresh(TaskAgent):
        """A class of its own: CPython stops sharing a class's dict keys for good once any
        instance adds attributes in another order, which another test may do to
        ``TaskAgent`` (so the shared-keys check would depend on test order)."""

    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(Fresh, name="w", store=MemoryStore(), handlers={"x": _double})
        agent = actor_state(ref)
        private = sorted(k for k in vars(agent) if k.startswith("_"))
        assert private == []
        assert len(vars(agent)) <= SHARED_KEYS_MAX
        # A key-sharing (split) dict is smaller than a copy of it that holds its own keys.
        if platform.python_implementation() == "CPython":
            assert sys.getsizeof(vars(agent)) < sys.getsizeof(dict(vars(agent)))
        assert weakref.ref(agent)() is agent


class _Tagged(TaskAgent):
    """A user subclass adding attributes of its own, private-looking ones included."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = "mine"
        self._seen: list[str] = []

    async def after_action(self, name: str, params: Any, result: Any) -> None:
        self._seen.append(name)
        self.extra = len(self._seen)  # a new attribute after the start, too


class _Slotted(PersistentAgent):
    """A user subclass with ``__slots__`` of its own and persisted state."""

    __slots__ = ("scratch",)
    persistent_fields = ("count",)
    count: int = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scratch = 0

    @bastion.agents.action
    def bump(self) -> int:
        self.scratch += 1
        self.count += 1
        return self.count


async def test_user_subclasses_add_attributes_and_slots_and_keep_their_state() -> None:
    store = MemoryStore()
    async with bastion.open_runtime() as rt:
        ref = await rt.spawn(_Tagged, name="t", store=store, handlers={"x": _double})
        accepted = await act(ref, "queue", type="x", payload=21)
        tagged: Any = actor_state(ref)
        await wait_for(lambda: tagged.processed_count == 1)
        assert (tagged.label, tagged._seen[0], tagged.extra) == ("mine", "queue", 1)
        outcome = await act(ref, "result", task_id=accepted.id)
        assert outcome.result == 42

        slotted = await rt.spawn(_Slotted, name="s", store=store)
        assert [await act(slotted, "bump") for _ in range(2)] == [1, 2]
        first: Any = actor_state(slotted)
        assert first.scratch == 2
        await crash(slotted)
        again: Any = actor_state(await rt.spawn(_Slotted, name="s", store=store))
        assert (again.restored, again.count, again.scratch) == (True, 2, 0)


def test_a_plain_agent_instance_still_takes_attributes() -> None:
    agent: Any = Agent()
    agent.note = "free"
    assert vars(agent) == {"note": "free"}
    with pytest.raises(TypeError, match="'clock' is reserved"):
        agent.clock = None
