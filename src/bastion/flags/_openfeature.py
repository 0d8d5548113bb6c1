"""The OpenFeature provider: :class:`BastionProvider` serves a :class:`Flags` service.

``openfeature.api.set_provider(BastionProvider(flags))``, then any OpenFeature client
resolves Bastion flags; the evaluation context's ``targeting_key`` and attributes are
the targeting key and attributes of :meth:`Flags.evaluate` (so the cohort is set as
with a direct evaluation). Errors map to OpenFeature's codes, and the client returns
the caller's default with reason ``ERROR``: unknown flag → ``FLAG_NOT_FOUND``, a
quarantined flag → ``PARSE_ERROR``, a value of another type → ``TYPE_MISMATCH``.
Every change is announced as ``PROVIDER_CONFIGURATION_CHANGED`` with the flag's key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import FlagNotFoundError, ParseError, TypeMismatchError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType
from openfeature.provider import AbstractProvider, Metadata

from bastion.flags._errors import FlagStoreCorrupt, UnknownFlag
from bastion.flags._journal import FlagChange
from bastion.flags._service import Flags

__all__ = ["BastionProvider"]

T = TypeVar("T")
ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_object(value: object) -> bool:
    return isinstance(value, dict | list)


class BastionProvider(AbstractProvider):
    """An OpenFeature provider backed by a Bastion :class:`Flags` service.

    ``cohort=False`` keeps evaluations through OpenFeature from setting the metrics
    cohort. The provider does not own ``flags``: close the service yourself.
    """

    def __init__(self, flags: Flags, *, cohort: bool = True) -> None:
        """Serve ``flags``."""
        super().__init__()
        self.flags = flags
        self._cohort = cohort
        self._unsubscribe: Callable[[], None] | None = None

    def get_metadata(self) -> Metadata:
        """``Metadata(name="bastion")``."""
        return Metadata(name="bastion")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Start announcing flag changes as configuration-changed events."""
        if self._unsubscribe is None:
            self._unsubscribe = self.flags.subscribe(self._changed)

    def shutdown(self) -> None:
        """Stop announcing changes."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _changed(self, change: FlagChange) -> None:
        details = ProviderEventDetails(flags_changed=[change.key], message=change.action.value)
        self.emit_provider_configuration_changed(details)

    def _resolve(
        self,
        flag_key: str,
        context: EvaluationContext | None,
        accepts: Callable[[object], bool],
        kind: str,
    ) -> FlagResolutionDetails[Any]:
        targeting_key = (context.targeting_key if context is not None else None) or ""
        attributes = context.attributes if context is not None else None
        try:
            ev = self.flags.evaluate(flag_key, targeting_key, attributes, cohort=self._cohort)
        except UnknownFlag as exc:
            raise FlagNotFoundError(str(exc)) from exc
        except FlagStoreCorrupt as exc:
            raise ParseError(str(exc)) from exc
        if not accepts(ev.value):
            raise TypeMismatchError(
                f"flag {flag_key!r} serves {type(ev.value).__name__} values, not {kind}"
            )
        value = float(ev.value) if kind == "float" else ev.value  # type: ignore[arg-type]
        return FlagResolutionDetails(
            value=value,
            reason=ev.reason.value,
            variant=ev.variant,
            flag_metadata={"cohort": ev.cohort},
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """Resolve a flag whose variants are booleans."""
        return self._resolve(flag_key, evaluation_context, _is_bool, "bool")

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        """Resolve a flag whose variants are strings."""
        return self._resolve(flag_key, evaluation_context, _is_str, "str")

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        """Resolve a flag whose variants are integers."""
        return self._resolve(flag_key, evaluation_context, _is_int, "int")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """Resolve a flag whose variants are numbers (ints are served as floats)."""
        return self._resolve(flag_key, evaluation_context, _is_number, "float")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: ObjectValue,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[ObjectValue]:
        """Resolve a flag whose variants are JSON objects or arrays."""
        return self._resolve(flag_key, evaluation_context, _is_object, "object")
