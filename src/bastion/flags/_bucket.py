"""Stable bucketing: where a targeting key falls in ``[0, 1)`` for a flag.

The bucket of a targeting key is the first 15 hex digits (60 bits) of
``sha1(f"{salt}.{targeting_key}")``, read as an integer (LaunchDarkly's scheme, see
``docs/rollout.md``). It depends on nothing but the two strings: the same key lands in
the same bucket in every process, on every Python version and after every restart
(never ``hash()``, which is salted per process). A key is *in* a percentage ``p`` iff
``bucket < p / 100 * 2**60``, so raising ``p`` only adds keys and lowering it only
removes them.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["BUCKETS", "bucket", "bucket_fraction", "percentage_threshold"]

#: The number of buckets: 2**60 (a resolution of about 1e-18).
BUCKETS = 1 << 60
_PER_PERCENT = BUCKETS / 100


def _fastest_sha1() -> Callable[[bytes], Any]:
    """CPython's built-in SHA-1 (HACL*): the same digest as OpenSSL's, finished faster."""
    try:
        builtin: Callable[[bytes], Any] = importlib.import_module("_sha1").sha1
    except ImportError:  # pragma: no cover - a build without the built-in hashes
        return hashlib.sha1
    return builtin


_sha1 = _fastest_sha1()


def bucket(salt: str, targeting_key: str) -> int:
    """The bucket of ``targeting_key`` under ``salt``: an int in ``[0, 2**60)``."""
    # The first 15 hex digits of the digest are its first 8 bytes without the last 4 bits.
    # "surrogatepass": a key with a lone surrogate (from untrusted input) still hashes.
    data = f"{salt}.{targeting_key}".encode("utf-8", "surrogatepass")
    return int.from_bytes(_sha1(data).digest()[:8]) >> 4


def bucket_fraction(salt: str, targeting_key: str) -> float:
    """The bucket as a fraction in ``[0, 1)`` (for display; decisions use the int)."""
    return bucket(salt, targeting_key) / BUCKETS


def percentage_threshold(percentage: float) -> float:
    """Buckets below this are inside ``percentage`` (0..100); monotone in ``percentage``.

    ``100`` gives exactly ``2**60``, so every key is inside; ``0`` gives 0, so none is.
    """
    return percentage * _PER_PERCENT
