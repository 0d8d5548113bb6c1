"""Bucketing is stable (same input → same bucket, in any process) and monotone."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.flags import BUCKETS, Flag, bucket, bucket_fraction
from bastion.flags._evaluate import CompiledFlag

SRC = str(Path(__file__).resolve().parents[2] / "src")

# Golden vectors: a change here moves users between variants in every deployment.
GOLDEN = [
    ("new-parser", "user-1", 739196836401415271),
    ("new-parser", "user-2", 130152060364841301),
    ("demo.step_impl", "doc-00007", 183551101197346488),
]

keys = st.text(min_size=1, max_size=40)
percentages = st.floats(min_value=0, max_value=100, allow_nan=False)


def test_bucket_is_the_first_60_bits_of_sha1_of_salt_dot_key() -> None:
    for salt, key, expected in GOLDEN:
        digest = hashlib.sha1(f"{salt}.{key}".encode()).hexdigest()
        assert bucket(salt, key) == int(digest[:15], 16) == expected
        assert 0 <= bucket_fraction(salt, key) < 1


def test_buckets_are_the_same_in_a_fresh_python_process() -> None:
    inputs = [(f"flag-{i}", f"user-{i * 7}") for i in range(50)]
    script = (
        "import json, sys; from bastion.flags import bucket; "
        "print(json.dumps([bucket(s, k) for s, k in json.load(sys.stdin)]))"
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": SRC, "PYTHONHASHSEED": "12345"},
        check=True,
    )
    assert json.loads(child.stdout) == [bucket(s, k) for s, k in inputs]


@settings(deadline=None)  # timing is not under test; the machine is shared
@given(salt=st.text(max_size=30), key=keys)
def test_bucket_is_deterministic_and_in_range(salt: str, key: str) -> None:
    assert bucket(salt, key) == bucket(salt, key)
    assert 0 <= bucket(salt, key) < BUCKETS


@settings(deadline=None)  # timing is not under test; the machine is shared
@given(key=keys, low=percentages, high=percentages)
def test_raising_the_percentage_never_moves_a_key_out_of_the_canary(
    key: str, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    flag = Flag.boolean("f", percentage=low)
    before = CompiledFlag(flag).evaluate(key, None).variant
    after = CompiledFlag(flag.replace(percentage=high)).evaluate(key, None).variant
    if before == "on":
        assert after == "on"


@settings(deadline=None)  # timing is not under test; the machine is shared
@given(key=keys)
def test_zero_percent_serves_nobody_and_100_percent_everybody(key: str) -> None:
    assert CompiledFlag(Flag.boolean("f", percentage=0)).evaluate(key, None).variant == "off"
    assert CompiledFlag(Flag.boolean("f", percentage=100)).evaluate(key, None).variant == "on"


def test_the_canary_share_follows_the_percentage() -> None:
    compiled = CompiledFlag(Flag.boolean("share", percentage=25))
    served = sum(compiled.evaluate(f"user-{i}", None).variant == "on" for i in range(20_000))
    assert 0.23 < served / 20_000 < 0.27


def test_a_shared_salt_puts_the_same_keys_in_two_flags_canaries() -> None:
    a = CompiledFlag(Flag.boolean("a", percentage=30).replace(salt="group"))
    b = CompiledFlag(Flag.boolean("b", percentage=30).replace(salt="group"))
    c = CompiledFlag(Flag.boolean("c", percentage=30))
    users = [f"user-{i}" for i in range(2_000)]
    in_a = [a.evaluate(u, None).variant for u in users]
    assert in_a == [b.evaluate(u, None).variant for u in users]
    assert in_a != [c.evaluate(u, None).variant for u in users]
