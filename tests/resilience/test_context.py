"""Error context on contextvars: scopes, nesting, tasks, threads, errors."""

from __future__ import annotations

import asyncio
import contextvars
import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bastion
import bastion.testing
from bastion import BusinessError
from bastion._core._clock import current_clock
from bastion.resilience import (
    ErrorContext,
    add_breadcrumb,
    add_metadata,
    current_context,
    error_context_of,
    error_scope,
)


def test_no_context_outside_any_scope() -> None:
    assert current_context() is None
    assert add_breadcrumb("nothing") is False
    assert add_metadata(x=1) is False


def _fail_in_inner_scope() -> None:
    with error_scope("inner"):
        assert current_context().path == ("outer", "middle", "inner")  # type: ignore[union-attr]
        raise KeyError("boom")


def test_scope_sets_and_restores_the_context() -> None:
    with error_scope("charge", correlation_id="req-1", account=7) as ctx:
        assert current_context() is ctx
        assert ctx.operation == "charge"
        assert ctx.correlation_id == "req-1"
        assert ctx.metadata == {"account": 7}
        assert ctx.parent is None
    assert current_context() is None


def test_nested_scopes_inherit_and_always_restore_the_previous_context() -> None:
    with error_scope("outer", correlation_id="c", tenant="t") as outer:
        add_breadcrumb("loaded")
        with error_scope("middle", step=1) as middle:
            assert middle.parent is not None
            assert middle.parent.operation == "outer"
            assert middle.correlation_id == "c"
            assert middle.metadata == {"tenant": "t", "step": 1}
            assert [c.name for c in middle.breadcrumbs] == ["loaded"]
            with pytest.raises(KeyError):
                _fail_in_inner_scope()
            assert current_context() is middle
        assert current_context() is not None
        assert current_context().operation_id == outer.operation_id  # type: ignore[union-attr]
        assert [c.name for c in current_context().breadcrumbs] == ["loaded"]  # type: ignore[union-attr]
    assert current_context() is None


def test_root_scopes_get_distinct_ids() -> None:
    with error_scope("a") as a:
        pass
    with error_scope("a") as b:
        pass
    assert a.operation_id != b.operation_id
    assert a.correlation_id != b.correlation_id


def test_breadcrumbs_and_metadata_stay_inside_their_scope() -> None:
    with error_scope("outer"):
        with error_scope("inner"):
            assert add_breadcrumb("step", n=1)
            assert add_metadata(user="u")
            ctx = current_context()
            assert ctx is not None
            assert ctx.breadcrumbs[-1].metadata == {"n": 1}
            assert ctx.metadata == {"user": "u"}
        ctx = current_context()
        assert ctx is not None
        assert ctx.breadcrumbs == ()
        assert ctx.metadata == {}


def test_breadcrumbs_are_bounded() -> None:
    with error_scope("loop"):
        for i in range(100):
            add_breadcrumb(f"b{i}")
        ctx = current_context()
        assert ctx is not None
        assert len(ctx.breadcrumbs) == 32
        assert ctx.breadcrumbs[-1].name == "b99"


def _declined() -> None:
    with error_scope("outer", correlation_id="x"), error_scope("inner", item=5):
        add_breadcrumb("validated")
        raise BusinessError("declined")


def test_an_error_raised_inside_gets_the_innermost_context() -> None:
    with pytest.raises(BusinessError) as info:
        _declined()
    err = info.value
    ctx = error_context_of(err)
    assert ctx is not None
    assert ctx.operation == "inner"
    assert err.context["error_context"]["path"] == "outer > inner"
    assert err.context["error_context"]["breadcrumbs"] == ["validated"]
    assert err.context["error_context"]["correlation_id"] == "x"
    assert any("outer > inner" in note for note in err.__notes__)


def test_cancellation_gets_no_context_attached() -> None:
    with pytest.raises(asyncio.CancelledError) as info, error_scope("op"):
        raise asyncio.CancelledError
    assert error_context_of(info.value) is None


def test_scope_rejects_bad_input_and_reuse() -> None:
    with pytest.raises(TypeError, match="non-empty str"):
        error_scope("")
    with pytest.raises(TypeError, match="non-empty str"):
        error_scope(42)  # type: ignore[arg-type]
    scope = error_scope("once")
    with scope, pytest.raises(RuntimeError, match="entered twice"), scope:
        pass


def test_decorator_opens_a_fresh_scope_per_call() -> None:
    seen: list[ErrorContext] = []

    @error_scope("work", kind="sync")
    def work() -> int:
        ctx = current_context()
        assert ctx is not None
        seen.append(ctx)
        return 1

    assert work() + work() == 2
    assert seen[0].operation_id != seen[1].operation_id
    assert seen[0].metadata == {"kind": "sync"}
    assert current_context() is None


async def test_async_decorator_keeps_the_scope_across_awaits() -> None:
    @error_scope("fetch")
    async def fetch() -> str:
        await current_clock().sleep(0.5)  # an await that suspends, in virtual time
        ctx = current_context()
        assert ctx is not None
        return ctx.operation

    assert await fetch() == "fetch"
    assert current_context() is None


async def test_context_is_carried_into_asyncio_tasks_and_not_back() -> None:
    with error_scope("parent", correlation_id="p"):

        async def child() -> str | None:
            with error_scope("child"):
                add_breadcrumb("in child")
                await current_clock().sleep(0.1)
            ctx = current_context()
            return ctx.correlation_id if ctx else None

        assert await asyncio.create_task(child()) == "p"
        ctx = current_context()
        assert ctx is not None
        assert ctx.operation == "parent"
        assert ctx.breadcrumbs == ()


async def test_context_is_carried_into_runtime_tasks_and_blocking_threads() -> None:
    async with bastion.open_runtime() as rt:
        with error_scope("request", correlation_id="r-1"):

            def blocking() -> tuple[str | None, str]:
                ctx = current_context()
                return (ctx.correlation_id if ctx else None), threading.current_thread().name

            corr, thread = await rt.tasks.run_blocking(blocking, timeout=5.0)
            assert corr == "r-1"
            assert thread != threading.current_thread().name

            async def task() -> str | None:
                ctx = current_context()
                return ctx.correlation_id if ctx else None

            assert await rt.tasks.run(task, timeout=5.0) == "r-1"


def test_plain_threads_get_the_context_through_copy_context() -> None:
    result: list[str | None] = []
    with error_scope("job", correlation_id="j"):
        snapshot = contextvars.copy_context()

    def body() -> None:
        ctx = current_context()
        result.append(ctx.correlation_id if ctx else None)

    thread = threading.Thread(target=snapshot.run, args=(body,))
    thread.start()
    thread.join(timeout=5.0)
    assert result == ["j"]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_context_never_leaks_between_1000_concurrent_tasks(seed: int) -> None:
    async def one(i: int, rng: random.Random) -> None:
        depth = rng.randint(1, 3)
        delays = [rng.choice([0, 0, 0.001, 0.01]) for _ in range(depth * 2)]
        with error_scope(f"task-{i}", correlation_id=f"c{i}"):
            for level in range(depth):
                with error_scope(f"level-{level}", task=i):
                    add_breadcrumb(f"b{i}")
                    await current_clock().sleep(delays.pop())
                    ctx = current_context()
                    assert ctx is not None
                    assert ctx.correlation_id == f"c{i}"
                    assert ctx.metadata == {"task": i}
                    assert {c.name for c in ctx.breadcrumbs} == {f"b{i}"}
                    assert ctx.path[0] == f"task-{i}"
                await current_clock().sleep(delays.pop())
                ctx = current_context()
                assert ctx is not None
                assert ctx.path == (f"task-{i}",)
        assert current_context() is None

    async def main() -> None:
        rng = random.Random(seed)
        async with asyncio.TaskGroup() as group:
            for i in range(1000):
                group.create_task(one(i, random.Random(rng.random())))

    bastion.testing.run(main, virtual=True)
