"""The one error model: the resilience branches and ``normalize``."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import sqlite3
import ssl
import urllib.error
from email.message import Message

import pytest

import bastion
from bastion import BastionError, BusinessError, Category, InfrastructureError, ValidationError
from bastion.resilience import (
    BulkheadFull,
    CircuitOpen,
    DatabaseError,
    DecodeError,
    IntegrityViolation,
    IsolatedFailure,
    JSONError,
    NetworkError,
    OperationTimeout,
    RetryBudgetExhausted,
    UnexpectedError,
    error_scope,
    normalize,
    register_error,
)
from bastion.resilience._classify import mapped_types
from bastion.resilience._drivers import exception_classes, sqlstate_rule


def test_every_resilience_error_is_in_the_one_tree() -> None:
    for cls in (NetworkError, DatabaseError, OperationTimeout, CircuitOpen, BulkheadFull,
                RetryBudgetExhausted, DecodeError, JSONError, IntegrityViolation,
                IsolatedFailure, UnexpectedError):  # fmt: skip
        assert issubclass(cls, BastionError)
    assert issubclass(OperationTimeout, bastion.Timeout)
    assert not issubclass(OperationTimeout, bastion.CallTimeout)
    assert issubclass(OperationTimeout, TimeoutError)
    assert JSONError().category is Category.VALIDATION
    assert IntegrityViolation().category is Category.BUSINESS
    assert IsolatedFailure().category is Category.SYSTEM
    assert NetworkError().retryable
    assert DatabaseError().retryable
    assert not CircuitOpen().retryable
    assert not BulkheadFull().retryable
    assert not RetryBudgetExhausted().retryable


@pytest.mark.parametrize(
    ("exc", "expected", "retryable"),
    [
        (TimeoutError("slow"), OperationTimeout, True),
        (TimeoutError(), OperationTimeout, True),
        (ConnectionRefusedError("refused"), NetworkError, True),
        (BrokenPipeError(), NetworkError, True),
        (socket.gaierror(-2, "Name or service not known"), NetworkError, True),
        (ssl.SSLCertVerificationError("bad cert"), NetworkError, False),
        (http.client.RemoteDisconnected("closed"), NetworkError, True),
        (http.client.IncompleteRead(b""), NetworkError, True),
        (urllib.error.URLError("down"), NetworkError, True),
        (json.JSONDecodeError("Expecting value", "x", 0), JSONError, False),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), DecodeError, False),
        (OSError(101, "Network is unreachable"), NetworkError, True),
        (OSError(2, "No such file"), UnexpectedError, False),
        (KeyError("k"), UnexpectedError, False),
        (ValueError("v"), UnexpectedError, False),
    ],
)  # fmt: skip
def test_normalize_classifies_stdlib_exceptions(
    exc: Exception, expected: type[BastionError], retryable: bool
) -> None:
    err = normalize(exc)
    assert type(err) is expected
    assert err.retryable is retryable
    assert err.__cause__ is exc
    assert err.context["exception"].endswith(type(exc).__qualname__)


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [(503, NetworkError, True), (500, NetworkError, True), (429, NetworkError, True),
     (408, NetworkError, True), (400, ValidationError, False), (422, ValidationError, False),
     (404, BusinessError, False), (403, BusinessError, False)],
)  # fmt: skip
def test_http_status_errors_are_classified_by_status(
    status: int, expected: type[BastionError], retryable: bool
) -> None:
    err = normalize(urllib.error.HTTPError("http://x", status, "msg", Message(), None))
    assert type(err) is expected
    assert err.retryable is retryable
    assert err.code == f"http_{status}"


def test_bastion_errors_pass_through_unchanged() -> None:
    err = BusinessError("no", code="funds")
    assert normalize(err) is err


@pytest.mark.parametrize("exc", [asyncio.CancelledError(), KeyboardInterrupt(), SystemExit(1)])
def test_cancellation_and_exits_are_never_normalized(exc: BaseException) -> None:
    with pytest.raises(TypeError, match="never classify"):
        normalize(exc)


def test_normalize_carries_the_error_context() -> None:
    with pytest.raises(ConnectionResetError) as info, error_scope("fetch", shard=3):
        raise ConnectionResetError("reset")
    err = normalize(info.value)
    assert err.context["error_context"]["operation"] == "fetch"
    assert err.context["error_context"]["metadata"] == {"shard": 3}


def test_register_error_adds_a_rule_for_a_user_exception() -> None:
    class Declined(Exception):
        pass

    class HardDeclined(Declined):
        pass

    register_error(Declined, BusinessError, code="declined")
    err = normalize(HardDeclined("card"))
    assert type(err) is BusinessError
    assert err.code == "declined"


def test_register_error_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="Exception subclass"):
        register_error(int, BusinessError)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Bastion error already"):
        register_error(NetworkError, BusinessError)
    with pytest.raises(TypeError, match="BastionError subclass or a rule"):
        register_error(LookupError, normalize, code="x")
    with pytest.raises(TypeError, match="into must be"):
        register_error(LookupError, "business")  # type: ignore[arg-type]


# -- drivers --------------------------------------------------------------------------


def test_every_sqlite3_exception_class_is_mapped() -> None:
    classes = exception_classes(sqlite3)
    assert len(classes) >= 10
    assert set(classes) <= mapped_types()
    for cls in classes:
        assert not isinstance(normalize(cls("x")), UnexpectedError), cls


def test_sqlite3_errors_are_classified_by_meaning() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("create table t (id integer primary key)")
    db.execute("insert into t values (1)")
    with pytest.raises(sqlite3.IntegrityError) as integrity:
        db.execute("insert into t values (1)")
    with pytest.raises(sqlite3.OperationalError) as missing:
        db.execute("select * from nope")
    assert type(normalize(integrity.value)) is IntegrityViolation
    no_table = normalize(missing.value)
    assert type(no_table) is DatabaseError
    assert no_table.retryable is False  # SQLITE_ERROR: a bug, not a transient condition
    assert no_table.context["sqlite_errorname"] == "SQLITE_ERROR"
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5  # type: ignore[attr-defined]
    assert normalize(busy).retryable is True


def test_every_httpx_exception_class_is_mapped() -> None:
    httpx = pytest.importorskip("httpx")
    classes = exception_classes(httpx)
    assert len(classes) >= 25
    assert set(classes) <= mapped_types()
    request = httpx.Request("GET", "http://example.invalid")
    assert type(normalize(httpx.ConnectError("x", request=request))) is NetworkError
    assert type(normalize(httpx.ReadTimeout("x", request=request))) is OperationTimeout
    assert type(normalize(httpx.InvalidURL("x"))) is ValidationError
    assert type(normalize(httpx.StreamConsumed())) is UnexpectedError  # a bug in the caller
    for status, expected in ((503, NetworkError), (404, BusinessError)):
        response = httpx.Response(status, request=request)
        err = normalize(httpx.HTTPStatusError("x", request=request, response=response))
        assert type(err) is expected


def test_every_psycopg_exception_class_is_mapped() -> None:
    pytest.importorskip("psycopg")
    import psycopg
    import psycopg.errors

    own = exception_classes(psycopg) + [
        c for c in exception_classes(psycopg.errors) if not getattr(c, "sqlstate", None)
    ]
    assert set(own) <= mapped_types()
    with_sqlstate = [c for c in exception_classes(psycopg.errors) if getattr(c, "sqlstate", None)]
    assert len(with_sqlstate) > 200
    for cls in with_sqlstate:
        assert sqlstate_rule(cls.sqlstate) is not None, cls
    assert normalize(psycopg.errors.SerializationFailure("x")).retryable is True
    assert type(normalize(psycopg.errors.UniqueViolation("x"))) is IntegrityViolation
    assert type(normalize(psycopg.errors.InvalidTextRepresentation("x"))) is ValidationError
    assert normalize(psycopg.errors.UndefinedTable("x")).retryable is False
    assert normalize(psycopg.errors.AdminShutdown("x")).retryable is True
    assert type(normalize(psycopg.errors.QueryCanceled("x"))) is OperationTimeout


def test_every_redis_exception_class_is_mapped() -> None:
    redis_exceptions = pytest.importorskip("redis.exceptions")
    classes = exception_classes(redis_exceptions)
    assert len(classes) >= 20
    assert set(classes) <= mapped_types()
    assert normalize(redis_exceptions.ConnectionError("x")).retryable is True
    assert type(normalize(redis_exceptions.TimeoutError("x"))) is OperationTimeout
    assert normalize(redis_exceptions.ResponseError("WRONGTYPE")).retryable is False


def test_every_msgspec_exception_class_is_mapped() -> None:
    import msgspec

    assert set(exception_classes(msgspec)) <= mapped_types()
    with pytest.raises(msgspec.DecodeError) as bad:
        msgspec.json.decode(b"{")
    assert type(normalize(bad.value)) is DecodeError
    with pytest.raises(msgspec.ValidationError) as wrong:
        msgspec.json.decode(b'"x"', type=int)
    assert type(normalize(wrong.value)) is ValidationError


def test_infrastructure_errors_are_retryable_unless_said_otherwise() -> None:
    assert InfrastructureError().retryable
    assert not ValidationError().retryable


def _sqlite_errors() -> list[sqlite3.Error]:
    db = sqlite3.connect(":memory:")
    db.execute("create table t (id integer primary key)")
    db.execute("insert into t values (1)")
    found: list[sqlite3.Error] = []
    for sql in ("insert into t values (1)", "select * from nope"):
        try:
            db.execute(sql)
        except sqlite3.Error as exc:
            found.append(exc)
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5  # type: ignore[attr-defined]
    db.close()
    return [*found, busy, sqlite3.ProgrammingError("misuse"), sqlite3.DataError("too big")]


def test_the_store_and_normalize_agree_on_which_sqlite_errors_are_retryable() -> None:
    from bastion.persistence._sqlite_errors import store_error

    errors = _sqlite_errors()
    verdicts = [(store_error(e).retryable, normalize(e).retryable) for e in errors]
    assert all(store == classified for store, classified in verdicts), verdicts
    assert [store for store, _ in verdicts] == [False, False, True, False, False]
