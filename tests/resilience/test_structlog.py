"""The ``bastion[structlog]`` integration in a real structlog chain, and logged exceptions.

An exception logged after its :func:`error_scope` exited (the usual ``except`` block
around a decorated operation) still reports the scope it was raised in.
"""

from __future__ import annotations

import logging

import pytest
import structlog

from bastion.resilience import ErrorContextFilter, add_breadcrumb, error_scope, structlog_processor


@error_scope("charge", correlation_id="c-7")
def charge() -> None:
    add_breadcrumb("card checked")
    raise ValueError("declined")


def capture_events() -> tuple[structlog.typing.BindableLogger, list[dict[str, object]]]:
    captured: list[dict[str, object]] = []

    def capture(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
        captured.append(dict(event))
        raise structlog.DropEvent

    log = structlog.wrap_logger(structlog.PrintLogger(), processors=[structlog_processor, capture])
    return log, captured


def test_structlog_exception_logged_after_the_scope_names_where_it_failed() -> None:
    log, captured = capture_events()
    with error_scope("checkout", correlation_id="outer"):
        try:
            charge()
        except ValueError:
            log.exception("payment failed")  # exc_info=True: the exception being handled
    [event] = captured
    assert event["operation"] == "charge"
    assert event["operation_path"] == "checkout > charge"
    assert event["correlation_id"] == "c-7"
    assert event["breadcrumbs"] == ["card checked"]


def test_structlog_exception_passed_explicitly_and_no_context_at_all() -> None:
    log, captured = capture_events()
    try:
        charge()
    except ValueError as err:
        log.error("failed", exc_info=err)
    log.error("plain", exc_info=(ValueError, ValueError("no scope"), None))
    failed, plain = captured
    assert failed["operation_path"] == "charge"
    assert plain["operation"] is None  # an exception from no scope, outside any scope


def test_logging_filter_reports_the_scope_of_a_logged_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.resilience.structlog.filter")
    context_filter = ErrorContextFilter()
    logger.addFilter(context_filter)
    try:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            try:
                charge()
            except ValueError:
                logger.exception("payment failed")
    finally:
        logger.removeFilter(context_filter)
    [record] = caplog.records
    assert record.operation_path == "charge"  # type: ignore[attr-defined]
    assert record.correlation_id == "c-7"  # type: ignore[attr-defined]
