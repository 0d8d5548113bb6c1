"""Cost of one flag evaluation, against a dict lookup measured in the same run.

Every case runs the same loop over 1,000 distinct targeting keys; the cases are
interleaved (A/B/A/B...) over the repeats and the median per call is reported, in CPU
time of the thread (``time.thread_time``: time the process spends preempted on a
shared machine does not count; the loops are CPU-bound and never block). The
baseline is the cheapest possible "flag": ``table[key]`` in a dict. ``evaluate`` is
measured on an in-memory ``Flags`` service (the store is not touched on a read).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from bastion.flags import Flag, Flags, Rule
from bastion.persistence import MemoryStore

KEYS = [f"user-{i}" for i in range(1_000)]


async def _service() -> Flags:
    flags = await Flags.open(MemoryStore())
    definitions = [
        Flag.boolean("off"),
        Flag.boolean("half", percentage=50),
        Flag.boolean("killed", percentage=50, enabled=False),
        Flag.boolean(
            "ruled",
            percentage=50,
            rules=[
                Rule("on", keys=["vip-1", "vip-2"]),
                Rule("on", attribute="plan", values=["enterprise"]),
                Rule("off", attribute="region", values=["cn"]),
            ],
        ),
    ]
    for flag in definitions:
        await flags.define(flag, actor="bench", reason="benchmark")
    return flags


def _cases(flags: Flags) -> dict[str, Callable[[], object]]:
    table = {"half": True}
    attributes = {"plan": "pro", "region": "eu"}
    evaluate = flags.evaluate

    def dict_lookup() -> object:
        for _ in KEYS:
            table["half"]
        return None

    def run(key: str, *, cohort: bool, attrs: dict[str, str] | None = None) -> Callable[[], object]:
        def loop() -> object:
            for k in KEYS:
                evaluate(key, k, attrs, cohort=cohort)
            return None

        return loop

    cases = {
        "dict_lookup": dict_lookup,
        "evaluate_default": run("off", cohort=False),
        "evaluate_killed": run("killed", cohort=False),
        "evaluate_percentage": run("half", cohort=False),
        "evaluate_percentage_cohort": run("half", cohort=True),
        "evaluate_rules_percentage": run("ruled", cohort=False, attrs=attributes),
    }
    cases.update(_openfeature_case(flags))
    return cases


def _openfeature_case(flags: Flags) -> dict[str, Callable[[], object]]:
    try:
        from openfeature import api
        from openfeature.evaluation_context import EvaluationContext
    except ImportError:
        return {}
    from bastion.flags.openfeature import BastionProvider

    api.set_provider(BastionProvider(flags, cohort=False))
    client = api.get_client()
    contexts = [EvaluationContext(k) for k in KEYS]

    def loop() -> object:
        for ctx in contexts:
            client.get_boolean_value("half", False, ctx)
        return None

    return {"openfeature_boolean": loop}


def _measure(cases: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, loop in cases.items():  # interleaved: every case in every round
            start = time.thread_time()
            loop()
            samples[name].append((time.thread_time() - start) / len(KEYS))
    return {name: statistics.median(s) for name, s in samples.items()}


def run(quick: bool) -> dict[str, Any]:
    """Median µs per evaluation and the ratio to a dict lookup of the same run."""
    repeats = 21 if quick else 201
    flags = asyncio.run(_service())
    t = _measure(_cases(flags), repeats)
    base = t["dict_lookup"]
    return {
        "flags": {
            "per_call_us": {k: round(v * 1e6, 3) for k, v in t.items()},
            "keys": len(KEYS),
            "repeats": repeats,
        },
        "ratios": {
            f"flags_{k}_vs_dict": round(v / base, 1) for k, v in t.items() if k != "dict_lookup"
        },
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
