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


def _all_error_classes() -> list[type[bastion.BastionError]]:
    import bastion.agents
    import bastion.persistence
    import bastion.resilience
    import bastion.testing

    found = []
    for module in (bastion, bastion.agents, bastion.persistence, bastion.resilience,
                   bastion.testing):  # fmt: skip
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, bastion.BastionError):
                found.append(obj)
    return found


def test_every_error_code_is_its_class_name_in_snake_case() -> None:
    from bastion._core._errors import code_for

    classes = _all_error_classes()
    assert len(classes) > 40
    for cls in classes:
        assert cls("x").code == code_for(cls.__name__), cls
    assert bastion.resilience.JSONError("x").code == "json_error"
    assert bastion.NoSuchActor("x").code == "no_such_actor"
    assert bastion.resilience.UnexpectedError("x").code == "unexpected_error"


def test_a_class_that_hand_writes_its_code_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="derived from the class name"):

        class Declined(bastion.BusinessError):
            """Hand-writes its code."""

            default_code = "declined"


def test_a_subclass_gets_its_own_derived_code() -> None:
    class PaymentDeclined(bastion.BusinessError):
        """A user error class."""

    assert PaymentDeclined("no").code == "payment_declined"
    assert PaymentDeclined("no", code="funds").code == "funds"


def test_every_timeout_is_a_timeout_but_only_infrastructure_ones_are_retryable() -> None:
    from bastion.resilience import OperationTimeout, is_retryable
    from bastion.testing import WaitTimeout

    for cls in (bastion.CallTimeout, OperationTimeout, WaitTimeout):
        assert issubclass(cls, bastion.Timeout)
        assert issubclass(cls, TimeoutError)
    assert not issubclass(OperationTimeout, bastion.CallTimeout)
    assert not issubclass(WaitTimeout, bastion.CallTimeout)
    assert not issubclass(WaitTimeout, bastion.InfrastructureError)
    assert is_retryable(bastion.CallTimeout("x"))
    assert is_retryable(OperationTimeout("x"))
    assert not is_retryable(WaitTimeout("a test wait expired"))


def test_test_toolkit_failures_are_not_actor_errors() -> None:
    from bastion.testing import DeadlockError, LeakError, TestTimeLimitExceeded

    for cls in (DeadlockError, LeakError, TestTimeLimitExceeded):
        assert not issubclass(cls, bastion.ActorError)
        assert issubclass(cls, bastion.BastionError)
    assert issubclass(LeakError, AssertionError)
