"""The pipeline's task handlers: simulated I/O, occasional bad documents, flaky steps.

The ``enrich`` step has two implementations behind the flag ``demo.step_impl``
(:data:`bastion.flags.DEMO_STEP_IMPL`), chosen per document: ``"current"`` (the
default) and ``"candidate"``. The step runs inside ``flags.scope(...)``, so what it
measures is attributed to the variant's cohort (``demo.step_impl=candidate``).
"""

from __future__ import annotations

import asyncio
import random
import zlib
from collections.abc import Callable, Coroutine
from typing import Any

from bastion import InfrastructureError, ValidationError
from bastion.agents import Task
from bastion.flags import DEMO_STEP_IMPL, Flags

__all__ = ["STEPS", "SimulatedOutage", "is_bad_document", "make_handlers"]

STEPS = ("fetch", "parse", "enrich", "index")
BAD_DOCUMENT_RATE = 0.03


class SimulatedOutage(InfrastructureError):
    """A step's dependency failed (injected by ``--chaos``); the step is retried."""


def is_bad_document(seed: int, doc: int) -> bool:
    """Whether document ``doc`` is malformed (same answer for a seed, every run)."""
    return random.Random(f"{seed}:bad:{doc}").random() < BAD_DOCUMENT_RATE


def make_handlers(
    seed: int, chaos: float, io_seconds: float, flags: Flags | None = None
) -> dict[str, Callable[[Task], Coroutine[Any, Any, Any]]]:
    """One async handler per step; each draws its randomness from the task id.

    With ``flags``, ``enrich`` evaluates ``demo.step_impl`` for the document; without,
    it always runs the current implementation.
    """

    def rng(task: Task) -> random.Random:
        return random.Random(zlib.crc32(f"{seed}:{task.id}".encode()))

    async def io(task: Task) -> random.Random:
        chance = rng(task)
        await asyncio.sleep(chance.uniform(0.2, 1.8) * io_seconds)
        if chance.random() < chance_of_outage(chaos):
            raise SimulatedOutage(f"{task.type} of {task.payload['doc']}: dependency timed out")
        return chance

    async def fetch(task: Task) -> dict[str, Any]:
        chance = await io(task)
        return {"doc": task.payload["doc"], "bytes": chance.randint(2_000, 90_000)}

    async def parse(task: Task) -> dict[str, Any]:
        await io(task)
        doc = task.payload["doc"]
        if is_bad_document(seed, doc):
            raise ValidationError(f"document {doc} is malformed", code="malformed_document")
        return {"doc": doc, "words": task.inputs["fetch"]["bytes"] // 6}

    async def enrich_current(task: Task) -> dict[str, Any]:
        chance = await io(task)
        return {"doc": task.payload["doc"], "entities": chance.randint(0, 40)}

    async def enrich_candidate(task: Task) -> dict[str, Any]:
        chance = await io(task)
        words = task.inputs["parse"]["words"]
        entities = min(40, words // 400 + chance.randint(0, 4))
        return {"doc": task.payload["doc"], "entities": entities, "enricher": "candidate"}

    async def enrich(task: Task) -> dict[str, Any]:
        if flags is None:
            return await enrich_current(task)
        with flags.scope(DEMO_STEP_IMPL.key, f"doc-{task.payload['doc']}") as chosen:
            if chosen.value == "candidate":
                return await enrich_candidate(task)
            return await enrich_current(task)

    async def index(task: Task) -> dict[str, Any]:
        await io(task)
        return {"doc": task.payload["doc"], "indexed": True}

    return {"fetch": fetch, "parse": parse, "enrich": enrich, "index": index}


def chance_of_outage(chaos: float) -> float:
    """Probability that one step attempt hits a simulated outage."""
    return min(0.5, chaos)
