"""The JSON result and the self-contained HTML report; recorders merge bucket-wise exactly."""

from __future__ import annotations

import asyncio
import json
import random
import re
from pathlib import Path

import pytest

from bastion import loadtest as lt
from bastion.loadtest._recorder import Recorder, merge_measurements
from bastion.loadtest._result import ChaosEvent, summarise


async def mixed(user: lt.User) -> object:
    counter = user.context  # shared by every in-flight slot (the load test's setup made it)
    counter["n"] = n = counter["n"] + 1
    await asyncio.sleep(0.002 * (1 + n % 5))  # noqa: BAS601 -- simulated service time, virtual
    if n % 7 == 0:
        raise ConnectionResetError("peer reset")
    return ("error", "sold out") if n % 11 == 0 else None


async def quick(user: lt.User) -> None:
    await asyncio.sleep(0.001)  # noqa: BAS601 -- simulated service time, virtual


async def run_mixed() -> lt.LoadTestResult:
    async def setup(rt: object) -> dict[str, int]:
        return {"n": 0}

    return await lt.run(
        lt.LoadTest([lt.Scenario("mixed", mixed, 2), lt.Scenario("quick", quick, 1)], setup=setup),
        load=lt.OpenModel(rate=300),
        duration=4.0,
        thresholds=["p99 < 20ms", "error_rate < 50%"],
        seed=5,
    )


async def test_the_json_result_names_its_units_and_has_every_section() -> None:
    data = json.loads((await run_mixed()).to_json())
    assert data["latency_unit"] == "ms"
    overall = data["overall"]
    assert overall["iterations"] == 1200
    assert overall["throughput"] == 300.0
    assert set(overall["latency"]) == {
        "p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "max_ms", "mean_ms", "min_ms",
    }  # fmt: skip
    assert overall["latency"]["p50_ms"] <= overall["latency"]["p99_ms"]
    assert overall["latency"]["p99_ms"] <= overall["latency"]["max_ms"] <= 10.5
    categories = overall["errors_by_category"]
    assert set(categories) == {"business", "infrastructure"}  # sold out; a connection reset
    assert sum(categories.values()) == overall["failed"] > 0
    by_name = {s["name"]: s for s in data["scenarios"]}
    assert by_name["quick"]["failed"] == 0
    assert by_name["mixed"]["errors_by_category"] == overall["errors_by_category"]
    assert by_name["mixed"]["iterations"] + by_name["quick"]["iterations"] == 1200
    assert [s["second"] for s in data["series"]] == [0, 1, 2, 3]
    assert sum(s["iterations"] for s in data["series"]) == 1200
    assert {e["code"] for e in data["errors"]} == {"network_error", "returned_error"}
    assert [t["passed"] for t in data["thresholds"]] == [True, True]


async def test_the_html_report_is_self_contained(tmp_path: Path) -> None:
    result = await run_mixed()
    path = result.write_html(tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert page.count("<svg") == 3
    for title in ("Latency over time", "Throughput", "Errors"):
        assert f"<h2>{title}</h2>" in page
    assert "p99 (ms)" in page
    assert "network_error" in page
    # nothing to fetch: no script, stylesheet link, image or url() (the SVG namespace is a name)
    assert not re.search(r"<script|<link|<img|url\(|@import", page)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * 3


def test_chaos_faults_are_marked_on_every_chart() -> None:
    recorder = Recorder(["a"])
    for second in range(5):
        recorder.ok(0, float(second), 0.01)
    events = [ChaosEvent(2.5, "kill", "worker-1")]
    result = summarise(recorder.measurements(), model="closed", chaos=events)
    from bastion.loadtest._html import render_html

    page = render_html(result, title="t")
    assert page.count("kill worker-1 at 2.50 s") == 3


def test_measurements_merge_bucket_wise_exactly() -> None:
    rng = random.Random(9)
    samples = [(rng.randrange(2), rng.uniform(0, 10), rng.expovariate(100)) for _ in range(20000)]
    whole = Recorder(["a", "b"])
    halves = [Recorder(["a", "b"]), Recorder(["a", "b"])]
    for i, (scenario, start, latency) in enumerate(samples):
        whole.ok(scenario, start, latency)
        halves[i % 2].ok(scenario, start, latency)
        if i % 13 == 0:
            error = TimeoutError("late")
            whole.failed(scenario, start, error)
            halves[i % 2].failed(scenario, start, error)
    merged = merge_measurements([h.measurements() for h in halves])
    alone = whole.measurements()
    assert [(c.scenario, c.second, c.ok, c.failed) for c in merged.cells] == [
        (c.scenario, c.second, c.ok, c.failed) for c in alone.cells
    ]
    for mine, theirs in zip(merged.cells, alone.cells, strict=True):
        assert mine.latency.counts == theirs.latency.counts
        assert mine.latency.bounds == theirs.latency.bounds
    assert merged.errors == alone.errors
    one = summarise(merged, model="m")
    other = summarise(alone, model="m")
    assert one.overall.latency == other.overall.latency


def test_record_many_equals_recording_one_by_one() -> None:
    from bastion.telemetry import LogLinearHistogram

    rng = random.Random(4)
    values = [rng.expovariate(1000) for _ in range(1000)]
    one, many = LogLinearHistogram(), LogLinearHistogram()
    for value in values:
        one.record(value)
    for start in range(0, len(values), 37):  # batches that do not line up with the fold
        many.record_many(values[start : start + 37])
    a, b = many.snapshot(), one.snapshot()
    assert (a.count, a.bounds, a.counts) == (b.count, b.bounds, b.counts)
    assert a.sum == pytest.approx(b.sum, rel=1e-12)  # summed in a different order
