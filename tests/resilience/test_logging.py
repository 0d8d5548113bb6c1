"""Error context in log records (logging.Filter) and structlog events."""

from __future__ import annotations

import logging

import pytest

from bastion.resilience import ErrorContextFilter, add_breadcrumb, error_scope, structlog_processor


def test_filter_injects_the_context_into_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.resilience.filter")
    context_filter = ErrorContextFilter()
    logger.addFilter(context_filter)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("outside")
            with error_scope("checkout", correlation_id="c-9"), error_scope("pay"):
                add_breadcrumb("card ok")
                logger.info("inside")
    finally:
        logger.removeFilter(context_filter)
    outside, inside = caplog.records
    assert outside.correlation_id is None  # type: ignore[attr-defined]
    assert inside.correlation_id == "c-9"  # type: ignore[attr-defined]
    assert inside.operation == "pay"  # type: ignore[attr-defined]
    assert inside.operation_path == "checkout > pay"  # type: ignore[attr-defined]
    assert inside.breadcrumbs == ["card ok"]  # type: ignore[attr-defined]
    formatted = logging.Formatter("%(correlation_id)s %(operation_path)s %(message)s")
    assert formatted.format(inside) == "c-9 checkout > pay inside"


def test_structlog_processor_adds_the_context() -> None:
    structlog = pytest.importorskip("structlog")
    captured: list[dict[str, object]] = []

    def capture(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
        captured.append(dict(event))
        raise structlog.DropEvent

    log = structlog.wrap_logger(structlog.PrintLogger(), processors=[structlog_processor, capture])
    with error_scope("sync", correlation_id="s-1"):
        log.info("hello", correlation_id="explicit")
        log.info("again")
    assert captured[0]["correlation_id"] == "explicit"  # keys already set win
    assert captured[1]["correlation_id"] == "s-1"
    assert captured[1]["operation"] == "sync"
