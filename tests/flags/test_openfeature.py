"""The OpenFeature provider resolves Bastion flags through the vendor-neutral API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

pytest.importorskip("openfeature", reason="openfeature-sdk is the extra bastion[openfeature]")

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent, ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from bastion.flags import Flag, Flags, Rule
from bastion.flags.openfeature import BastionProvider
from bastion.persistence import MemoryStore, Put
from bastion.telemetry import current_cohort


@pytest.fixture
async def flags() -> AsyncIterator[Flags]:
    service = await Flags.open(MemoryStore())
    await service.define(
        Flag.boolean("new-parser", rules=[Rule("on", attribute="plan", values=["pro"])]),
        actor="a",
        reason="r",
    )
    values = {"s": "text", "i": 7, "f": 2.5, "o": {"limit": 3}, "l": [1, 2]}
    for variant, value in values.items():
        await service.define(
            Flag(f"kind-{variant}", {variant: value}, variant), actor="a", reason="r"
        )
    yield service
    await service.aclose()


@pytest.fixture
async def client(flags: Flags) -> AsyncIterator[OpenFeatureClient]:
    api.set_provider(BastionProvider(flags))
    yield api.get_client()
    api.shutdown()
    api.clear_providers()


async def test_every_type_resolves_with_variant_and_reason(client: OpenFeatureClient) -> None:
    details = client.get_boolean_details("new-parser", True, EvaluationContext("u1"))
    assert (details.value, details.variant, details.reason) == (False, "off", Reason.DEFAULT)
    assert details.flag_metadata == {"cohort": "new-parser=off"}
    pro = EvaluationContext("u1", {"plan": "pro"})
    assert client.get_boolean_details("new-parser", False, pro).reason == Reason.TARGETING_MATCH
    assert client.get_string_details("kind-s", "x").value == "text"
    assert client.get_integer_details("kind-i", 0).value == 7
    assert client.get_float_details("kind-f", 0.0).value == 2.5
    assert client.get_float_details("kind-i", 0.0).value == 7.0
    assert client.get_object_details("kind-o", {}).value == {"limit": 3}
    assert client.get_object_details("kind-l", []).value == [1, 2]


async def test_evaluation_through_openfeature_sets_the_cohort(client: OpenFeatureClient) -> None:
    client.get_boolean_value("new-parser", False, EvaluationContext("u1", {"plan": "pro"}))
    assert current_cohort() == "new-parser=on"


async def test_errors_return_the_default_with_an_error_code(client: OpenFeatureClient) -> None:
    missing = client.get_boolean_details("nope", True)
    assert (missing.value, missing.error_code, missing.reason) == (
        True,
        ErrorCode.FLAG_NOT_FOUND,
        Reason.ERROR,
    )
    mismatch = client.get_integer_details("kind-s", 5)
    assert (mismatch.value, mismatch.error_code) == (5, ErrorCode.TYPE_MISMATCH)
    assert client.get_boolean_details("kind-i", False).error_code == ErrorCode.TYPE_MISMATCH
    assert client.get_integer_details("new-parser", 1).error_code == ErrorCode.TYPE_MISMATCH


async def test_a_quarantined_flag_is_a_parse_error() -> None:
    store = MemoryStore()
    flags = await Flags.open(store)
    await flags.define(Flag.boolean("f"), actor="a", reason="r")
    await store.write([Put("flags/f", "flag", b"garbage", expected_version=1)])
    await flags.refresh()
    api.set_provider(BastionProvider(flags))
    try:
        details = api.get_client().get_boolean_details("f", True)
        assert (details.value, details.error_code) == (True, ErrorCode.PARSE_ERROR)
    finally:
        api.shutdown()
        api.clear_providers()


async def test_changes_are_announced_as_configuration_changed(flags: Flags) -> None:
    # What the SDK's registry does on set_provider (attach, initialize). The SDK then runs
    # client handlers on its own process-wide thread pool, which is not under test here.
    provider = BastionProvider(flags)
    seen: list[tuple[ProviderEvent, ProviderEventDetails]] = []
    provider.attach(lambda source, event, details: seen.append((event, details)))
    provider.initialize(EvaluationContext())
    provider.initialize(EvaluationContext())  # idempotent: one subscription
    await flags.set_percentage("new-parser", 100, actor="a", reason="r")
    assert [(e, d.flags_changed, d.message) for e, d in seen] == [
        (ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, ["new-parser"], "set_percentage")
    ]
    details = provider.resolve_boolean_details("new-parser", False, EvaluationContext("u1"))
    assert details.value is True
    provider.shutdown()
    provider.shutdown()
    await flags.kill("new-parser", actor="a", reason="r")
    assert len(seen) == 1  # shut down: no longer subscribed


async def test_metadata_names_the_provider(flags: Flags) -> None:
    provider = BastionProvider(flags, cohort=False)
    assert provider.get_metadata().name == "bastion"
    provider.resolve_boolean_details("new-parser", False, EvaluationContext("u1"))
    assert current_cohort() == ""
