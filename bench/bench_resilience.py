"""Success-path overhead of the resilience pieces, each against a bare call in the same run.

Overhead = (median per-call time of the wrapped call) - (median of the bare call), over
batches of calls. Targets (issue 4): boundary <= 1 us, retry wrapper <= 1 us, breaker
call <= 2 us, error-context scope <= 1 us; plus the contextvars/thread-local ratio.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

from bastion.resilience import (
    CircuitBreaker,
    Retry,
    RetryBudget,
    current_context,
    error_scope,
    network_boundary,
)
from bastion.resilience.legacy import set_context_mode


def _per_call(fn: Callable[[], object], batch: int, repeats: int) -> float:
    """Median seconds per call over ``repeats`` batches of ``batch`` calls."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def _async_per_call(make: Callable[[], Any], batch: int, repeats: int) -> float:
    async def main() -> float:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(batch):
                await make()
            samples.append((time.perf_counter() - start) / batch)
        return statistics.median(samples)

    return asyncio.run(main())


def _target() -> int:
    return 1


async def _atarget() -> int:
    return 1


def _measure(batch: int, repeats: int) -> dict[str, float]:
    policy = Retry(budget=RetryBudget("bench", max_tokens=10))
    retried = policy(_target)
    breaker = CircuitBreaker("bench", minimum_calls=10**6)
    abreaker = CircuitBreaker("bench-async", minimum_calls=10**6)
    aretried = policy(_atarget)

    def boundary() -> int:
        with network_boundary:
            return _target()

    def scope() -> int:
        with error_scope("op"):
            return _target()

    def scope_and_read() -> object:
        with error_scope("op"):
            return current_context()

    t: dict[str, float] = {}
    t["bare"] = _per_call(_target, batch, repeats)
    t["boundary"] = _per_call(boundary, batch, repeats)
    t["retry"] = _per_call(retried, batch, repeats)
    t["breaker"] = _per_call(lambda: breaker.call_sync(_target), batch, repeats)
    t["scope"] = _per_call(scope, batch, repeats)
    t["scope_contextvars"] = _per_call(scope_and_read, batch, repeats)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        set_context_mode("thread_local")
    try:
        t["scope_thread_local"] = _per_call(scope_and_read, batch, repeats)
    finally:
        set_context_mode("contextvars")
    t["async_bare"] = _async_per_call(_atarget, batch, repeats)
    t["async_retry"] = _async_per_call(aretried, batch, repeats)
    t["async_breaker"] = _async_per_call(lambda: abreaker.call(_atarget), batch, repeats)
    return t


def run(quick: bool) -> dict[str, Any]:
    """Overheads in microseconds and ratios against the bare call of the same run."""
    batch, repeats = (2_000, 7) if quick else (20_000, 15)
    t = _measure(batch, repeats)
    us = {k: round(v * 1e6, 3) for k, v in t.items()}

    def over(key: str, base: str = "bare") -> float:
        return round((t[key] - t[base]) * 1e6, 3)

    return {
        "resilience": {
            "per_call_us": us,
            "overhead_us": {
                "boundary": over("boundary"),
                "retry": over("retry"),
                "breaker": over("breaker"),
                "error_scope": over("scope"),
                "async_retry": over("async_retry", "async_bare"),
                "async_breaker": over("async_breaker", "async_bare"),
            },
            "targets_us": {"boundary": 1.0, "retry": 1.0, "breaker": 2.0, "error_scope": 1.0},
            "batch": batch,
            "repeats": repeats,
        },
        "ratios": {
            "resilience_boundary_vs_bare": round(t["boundary"] / t["bare"], 2),
            "resilience_retry_vs_bare": round(t["retry"] / t["bare"], 2),
            "resilience_breaker_vs_bare": round(t["breaker"] / t["bare"], 2),
            "resilience_scope_vs_bare": round(t["scope"] / t["bare"], 2),
            "resilience_contextvars_vs_thread_local": round(
                t["scope_contextvars"] / t["scope_thread_local"], 2
            ),
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=2))
