"""The deprecated thread-local mode: warns, and switching mid-operation loses nothing."""

from __future__ import annotations

import pytest

import bastion.resilience
from bastion.resilience import (
    _legacy,
    add_breadcrumb,
    current_context,
    error_context_of,
    error_scope,
)
from bastion.resilience.legacy import ContextMode, context_mode, set_context_mode


def test_the_legacy_switches_are_not_in_the_resilience_namespace() -> None:
    for name in ("ContextMode", "context_mode", "set_context_mode"):
        assert name not in bastion.resilience.__all__
        assert not hasattr(bastion.resilience, name)


def test_default_mode_is_contextvars() -> None:
    assert context_mode() is ContextMode.CONTEXTVARS


def test_thread_local_mode_warns_deprecation() -> None:
    with pytest.warns(DeprecationWarning, match="thread-local error-context mode is deprecated"):
        previous = set_context_mode("thread_local")
    assert previous is ContextMode.CONTEXTVARS
    assert context_mode() is ContextMode.THREAD_LOCAL
    set_context_mode(ContextMode.CONTEXTVARS)


def test_unknown_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown error-context mode 'pdict'"):
        set_context_mode("pdict")


def test_thread_local_mode_stores_in_the_thread_local() -> None:
    with pytest.warns(DeprecationWarning, match="deprecated"):
        set_context_mode("thread_local")
    with error_scope("legacy") as ctx:
        assert _legacy.load() is ctx
        assert current_context() is ctx
    assert _legacy.load() is None


@pytest.mark.parametrize("start", ["contextvars", "thread_local"])
def test_switching_modes_mid_operation_loses_nothing(start: str) -> None:
    other = "thread_local" if start == "contextvars" else "contextvars"
    with pytest.warns(DeprecationWarning, match="deprecated"):
        set_context_mode("thread_local")  # make sure both stores are in play
    if start == "contextvars":
        set_context_mode(start)
    with error_scope("outer", correlation_id="keep") as outer:
        add_breadcrumb("before switch")
        with _deprecated() if other == "thread_local" else _nothing():
            set_context_mode(other)  # the flag flips while the operation runs
        ctx = current_context()
        assert ctx is not None
        assert ctx.operation_id == outer.operation_id
        assert [c.name for c in ctx.breadcrumbs] == ["before switch"]
        with error_scope("inner") as inner:
            assert inner.parent is not None
            assert inner.parent.operation == "outer"
            assert inner.correlation_id == "keep"
            add_breadcrumb("after switch")
            with _deprecated() if start == "thread_local" else _nothing():
                set_context_mode(start)  # and back, inside the nested scope
            ctx = current_context()
            assert ctx is not None
            assert ctx.operation == "inner"
            assert [c.name for c in ctx.breadcrumbs] == ["before switch", "after switch"]
        ctx = current_context()
        assert ctx is not None
        assert ctx.operation == "outer"
        assert [c.name for c in ctx.breadcrumbs] == ["before switch"]
    assert current_context() is None
    assert _legacy.load() is None


def _switch_then_fail() -> None:
    with error_scope("outer", correlation_id="z"):
        with pytest.warns(DeprecationWarning, match="deprecated"):
            set_context_mode("thread_local")
        with error_scope("inner"):
            raise RuntimeError("boom")


def test_error_leaving_a_scope_after_a_switch_keeps_its_context() -> None:
    with pytest.raises(RuntimeError) as info:
        _switch_then_fail()
    ctx = error_context_of(info.value)
    assert ctx is not None
    assert ctx.path == ("outer", "inner")
    assert ctx.correlation_id == "z"
    assert current_context() is None


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _deprecated() -> pytest.WarningsRecorder:
    return pytest.warns(DeprecationWarning, match="deprecated")
