"""Error boundaries and protect_critical_path: only listed/expected errors are handled."""

from __future__ import annotations

import json
import logging
import sqlite3

import msgspec
import pytest

from bastion import BusinessError, ValidationError
from bastion.resilience import (
    Boundary,
    DatabaseError,
    IntegrityViolation,
    JSONError,
    NetworkError,
    OperationTimeout,
    UnexpectedError,
    boundary,
    database_boundary,
    error_context_of,
    error_scope,
    json_boundary,
    network_boundary,
    protect_critical_path,
    protect_critical_path_async,
)


def _raise(exc: BaseException) -> None:
    raise exc


def test_network_boundary_converts_network_errors() -> None:
    original = ConnectionRefusedError("refused")
    with pytest.raises(NetworkError) as info, network_boundary:
        _raise(original)
    assert info.value.__cause__ is original
    assert info.value.retryable
    with pytest.raises(OperationTimeout), network_boundary:
        _raise(TimeoutError("slow"))


def test_network_boundary_converts_httpx_errors() -> None:
    httpx = pytest.importorskip("httpx")
    request = httpx.Request("GET", "http://example.invalid")
    with pytest.raises(NetworkError), network_boundary:
        _raise(httpx.ConnectError("down", request=request))
    assert httpx.HTTPError in network_boundary.types()


def test_database_boundary_converts_sqlite_errors() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("create table t (id integer primary key)")
    db.execute("insert into t values (1)")
    with pytest.raises(IntegrityViolation), database_boundary:
        db.execute("insert into t values (1)")
    with pytest.raises(DatabaseError), database_boundary:
        db.execute("select * from missing")


def test_json_boundary_converts_to_invalid_json() -> None:
    with pytest.raises(JSONError) as info, json_boundary:
        json.loads("{not json")
    assert isinstance(info.value, ValidationError)
    with pytest.raises(JSONError), json_boundary:
        msgspec.json.decode(b"[1,")
    with pytest.raises(JSONError), json_boundary:
        b"\xff".decode()


@pytest.mark.parametrize("b", [network_boundary, database_boundary, json_boundary])
def test_unexpected_errors_propagate_unchanged(b: Boundary) -> None:
    for exc in (KeyError("bug"), ZeroDivisionError(), BusinessError("rule")):
        with pytest.raises(type(exc)) as info, b:
            _raise(exc)
        assert info.value is exc


def test_generic_boundary_over_listed_types() -> None:
    config: dict[str, int] = {}
    with pytest.raises(ValidationError) as info, boundary(KeyError, into=ValidationError):
        config["port"]
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(UnexpectedError), boundary(KeyError):
        config["port"]  # no rule and no `into`: classified as a bug, still typed
    with pytest.raises(ZeroDivisionError), boundary(KeyError, into=ValidationError):
        _ = 1 / 0


def test_boundaries_refuse_catch_alls_and_bad_input() -> None:
    for bad in (Exception, BaseException):
        with pytest.raises(TypeError, match="catch-all"):
            boundary(bad)
    with pytest.raises(TypeError, match="must never be caught"):
        boundary(KeyboardInterrupt)
    with pytest.raises(TypeError, match="exception classes"):
        boundary("KeyError")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at least one"):
        boundary()
    with pytest.raises(TypeError, match="into must be"):
        boundary(KeyError, into=KeyError)  # type: ignore[arg-type]


def test_boundary_as_decorator_sync_and_async() -> None:
    @network_boundary
    def fetch() -> None:
        raise ConnectionResetError("reset")

    with pytest.raises(NetworkError):
        fetch()


async def test_boundary_decorates_coroutine_functions() -> None:
    @network_boundary
    async def fetch() -> None:
        raise ConnectionResetError("reset")

    with pytest.raises(NetworkError):
        await fetch()


def _scoped_failure() -> None:
    with error_scope("sync", job=1), network_boundary:
        raise ConnectionResetError("reset")


def test_boundary_error_keeps_the_error_context() -> None:
    with pytest.raises(NetworkError) as info:
        _scoped_failure()
    ctx = error_context_of(info.value)
    assert ctx is not None
    assert ctx.operation == "sync"


def test_protect_critical_path_returns_the_fallback_for_expected_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def down() -> list[str]:
        with network_boundary:
            raise ConnectionRefusedError("refused")

    with caplog.at_level(logging.WARNING, logger="bastion.resilience"):
        assert protect_critical_path(down, ["cached"]) == ["cached"]
    assert "returning the fallback" in caplog.text
    assert "ConnectionRefusedError" in caplog.text

    def declined() -> str:
        raise BusinessError("declined", code="funds")

    assert protect_critical_path(declined, lambda err: err.code) == "funds"
    assert protect_critical_path(lambda: "ok", "fallback") == "ok"


@pytest.mark.parametrize(
    "exc", [KeyError("bug"), UnexpectedError("bug"), ConnectionError("raw, unclassified")]
)
def test_protect_critical_path_lets_unexpected_errors_propagate(exc: Exception) -> None:
    with pytest.raises(type(exc)):
        protect_critical_path(lambda: _raise(exc), "fallback")


def test_protect_critical_path_rejects_a_catch_all() -> None:
    with pytest.raises(TypeError, match="catch-all"):
        protect_critical_path(lambda: 1, 0, on=(Exception,))


async def test_protect_critical_path_async() -> None:
    async def down() -> int:
        raise NetworkError("down")

    async def bug() -> int:
        raise AttributeError("bug")

    assert await protect_critical_path_async(down, 0) == 0
    with pytest.raises(AttributeError):
        await protect_critical_path_async(bug, 0)
