"""The hot-path builder of frozen dataclasses gives what their constructor gives."""

from __future__ import annotations

import dataclasses

import pytest

from bastion.agents import Task, TaskFinished, TaskOutcome, TaskStatus
from bastion.agents._frozen import builder
from bastion.persistence import DeleteItem, Put, PutItem


def test_built_instances_equal_constructed_ones_and_stay_frozen() -> None:
    task = builder(Task)("t1", "fetch", {"url": "u"}, 2, {"a": 1})
    assert task == Task("t1", "fetch", {"url": "u"}, 2, {"a": 1})
    assert repr(task) == repr(Task("t1", "fetch", {"url": "u"}, 2, {"a": 1}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.attempt = 3  # type: ignore[misc]
    assert builder(PutItem)("ns", "c", "i", b"x", None) == PutItem("ns", "c", "i", b"x")
    assert builder(DeleteItem)("ns", "c", "i") == DeleteItem("ns", "c", "i")
    assert builder(Put)("ns", "k", b"x", 3) == Put("ns", "k", b"x", 3)
    outcome = TaskOutcome(id="t1", type="fetch", status=TaskStatus.COMPLETED)
    assert builder(TaskFinished)(outcome) == TaskFinished(outcome)


def test_a_class_the_builder_cannot_fill_exactly_is_refused() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int
        b: int
        c: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int
        b: int
        c: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("a < 0")

    @dataclasses.dataclass(frozen=True, slots=True)
    class Two:
        a: int
        b: int

    for cls in (Mutable, Checked, Two):
        with pytest.raises(TypeError):
            builder(cls)
