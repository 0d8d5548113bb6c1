"""A provider's sampler, compiled once into what a message span's start consults.

The SDK asks its sampler for every span it starts (``should_sample``: a few Python calls
and a ``SamplingResult`` each). Bastion's message spans consult the same sampler but
read the SDK's own samplers as what they are: :data:`ALWAYS_ON`/:data:`ALWAYS_OFF`
(``StaticSampler``), ``TraceIdRatioBased`` (a bound on the trace id's low 64 bits) and
``ParentBased`` (one of five delegates chosen by the parent span: none, remote or local,
sampled or not). Each becomes a *slot*: an ``int`` bound (sample when
``trace_id & 0xFFFF_FFFF_FFFF_FFFF < bound``; ``0`` never, ``2**64`` always) or, for any
other sampler, the sampler itself, whose ``should_sample`` is then called with the
arguments the SDK would pass. The decisions are the SDK's, to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    StaticSampler,
    TraceIdRatioBased,
)

__all__ = ["ALWAYS", "NEVER", "TRACE_ID_LIMIT", "SamplingPolicy", "Slot", "compile_sampler"]

TRACE_ID_LIMIT = TraceIdRatioBased.TRACE_ID_LIMIT  # the low 64 bits decide
ALWAYS = TRACE_ID_LIMIT + 1  # a bound every trace id is below
NEVER = 0

#: A compiled sampler: a bound on ``trace_id & TRACE_ID_LIMIT``, or a sampler to call.
Slot = int | Sampler


@dataclass(frozen=True, slots=True)
class SamplingPolicy:
    """The slot for each kind of parent a span can have."""

    root: Slot
    remote_sampled: Slot
    remote_not_sampled: Slot
    local_sampled: Slot
    local_not_sampled: Slot


def _slot(sampler: Sampler) -> Slot:
    """A bound if the sampler decides on the trace id alone, else the sampler itself."""
    method = type(sampler).should_sample
    if isinstance(sampler, StaticSampler) and method is StaticSampler.should_sample:
        decision = sampler._decision  # the SDK's own field, read once
        if decision is Decision.RECORD_AND_SAMPLE:
            return ALWAYS
        if decision is Decision.DROP:
            return NEVER
        return sampler  # RECORD_ONLY: recorded, not sampled (the sampler says so)
    if (
        isinstance(sampler, TraceIdRatioBased)
        and method is TraceIdRatioBased.should_sample
        and type(sampler).bound is TraceIdRatioBased.bound
    ):
        return int(sampler.bound)
    return sampler


def compile_sampler(sampler: Sampler) -> SamplingPolicy:
    """The policy that decides as ``sampler`` does (see the module docstring)."""
    if (
        isinstance(sampler, ParentBased)
        and type(sampler).should_sample is ParentBased.should_sample
    ):
        return SamplingPolicy(
            root=_slot(sampler._root),  # the SDK keeps delegates private
            remote_sampled=_slot(sampler._remote_parent_sampled),
            remote_not_sampled=_slot(sampler._remote_parent_not_sampled),
            local_sampled=_slot(sampler._local_parent_sampled),
            local_not_sampled=_slot(sampler._local_parent_not_sampled),
        )
    slot = _slot(sampler)
    return SamplingPolicy(slot, slot, slot, slot, slot)
