"""The exception tree: one root, categories, routing classes."""

from __future__ import annotations

import copy

import pytest

import bastion
from bastion import Category


def test_every_exception_has_one_root() -> None:
    for name in bastion.__all__:
        obj = getattr(bastion, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, bastion.BastionError), name


@pytest.mark.parametrize(
    ("cls", "category", "retryable", "expected"),
    [
        (bastion.ValidationError, Category.VALIDATION, False, True),
        (bastion.BusinessError, Category.BUSINESS, False, True),
        (bastion.InfrastructureError, Category.INFRASTRUCTURE, True, False),
        (bastion.CallTimeout, Category.INFRASTRUCTURE, True, False),
        (bastion.MailboxFull, Category.INFRASTRUCTURE, True, False),
        (bastion.ActorCrashed, Category.SYSTEM, False, False),
        (bastion.ActorNotAlive, Category.SYSTEM, False, False),
        (bastion.SupervisorError, Category.SYSTEM, False, False),
    ],
)
def test_categories_and_routing(
    cls: type[bastion.BastionError], category: Category, retryable: bool, expected: bool
) -> None:
    err = cls("msg")
    assert err.category is category
    assert err.retryable is retryable
    assert isinstance(err, bastion.ExpectedError) is expected


def test_per_instance_overrides_and_copies_keep_them() -> None:
    err = bastion.BusinessError(
        "no funds", code="funds", severity=bastion.Severity.HIGH, context={"account": 7}
    )
    assert (err.code, err.severity, err.context) == ("funds", "high", {"account": 7})
    clone = copy.deepcopy(err)
    assert (clone.code, clone.context, str(clone)) == ("funds", {"account": 7}, "no funds")


def test_call_timeout_is_also_a_timeout_error() -> None:
    assert issubclass(bastion.CallTimeout, TimeoutError)
