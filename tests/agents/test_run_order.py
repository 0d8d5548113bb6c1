"""A TaskAgent's run order (issue 15): FIFO lanes per priority and a heap for late
arrivals give the order a single heap gave, whatever order entries arrive in."""

from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from bastion.agents._run_order import RunOrder
from bastion.agents._task_types import ORDER_SHIFT

_entries = st.lists(
    st.tuples(st.integers(-1, 4), st.integers(0, 50)), unique_by=lambda e: e[1], max_size=60
)
_steps = st.lists(st.one_of(st.none(), st.integers(0, 60)), max_size=120)


def _entry(priority: int, seq: int) -> tuple[int, str]:
    return (priority << ORDER_SHIFT) | seq, f"t{seq}"


@given(_entries, _steps)
def test_pops_follow_the_order_a_heap_gives_under_any_arrival_order(
    arrivals: list[tuple[int, int]], steps: list[int | None]
) -> None:
    entries = [_entry(p, s) for p, s in arrivals]
    order, heap = RunOrder(), list[tuple[int, str]]()
    pending = iter(entries)
    for step in steps:
        if step is None:  # take one
            assert order.head() == (heap[0] if heap else None)
            assert order.pop() == (heapq.heappop(heap) if heap else None)
        else:  # queue a few more
            for entry in [e for _, e in zip(range(step % 4 + 1), pending, strict=False)]:
                order.push(entry)
                heapq.heappush(heap, entry)
        assert (bool(order), len(order)) == (bool(heap), len(heap))
    assert [order.pop() for _ in range(len(heap))] == sorted(heap)
    assert order.pop() is None


def test_a_rebuilt_order_starts_sorted_and_new_tasks_queue_behind_it() -> None:
    order = RunOrder([_entry(1, 7), _entry(0, 9), _entry(1, 3)])
    order.push(_entry(1, 12))
    order.push(_entry(1, 5))  # a restored page's task read after a newer one: late
    assert [order.pop() for _ in range(5)] == [
        _entry(0, 9),
        _entry(1, 3),
        _entry(1, 5),
        _entry(1, 7),
        _entry(1, 12),
    ]
