"""A fixed-memory latency histogram with log-linear buckets (HdrHistogram style).

Values are seconds (any positive float). Each power-of-two range ("octave") is split
into :data:`SUB_BUCKETS` equal buckets, so a bucket is at most 1/64 of its lower bound
wide; reporting the bucket's midpoint bounds the relative error of every percentile by
1/128 (< 0.8 %). The default range is 2**-20 s (about 1 µs) to 2**12 s (about 68 min):
2,048 counters, whatever the number of samples. Values outside the range are clamped
into the first or last bucket (and still added to the exact ``sum``).

Recording appends to a buffer of at most :data:`BATCH` values; counting them runs in
C, one call per batch: the buffer is packed as IEEE *single-precision* floats, whose
high 16-bit halves are *keys* (sign, 8 exponent bits, the 7 highest mantissa bits: the
octave and twice the sub-bucket), read through a ``memoryview`` and counted into a
dict by the C loop behind ``collections.Counter``. Keys become buckets (dropping their
last bit, clamping) only when a snapshot is taken, off the hot path; keys of values
outside the range are merged into the first and last buckets' once they number more
than a few hundred, so memory stays bounded. Rounding a value to single precision
moves it by at most 2**-24 of itself, so a value that close to a bucket bound may be
counted in the neighbour bucket; the error bound above still holds (the exact ``sum``
is kept in double precision).
"""

from __future__ import annotations

import collections
import math
import struct
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

__all__ = [
    "BATCH",
    "DEFAULT_HIGHEST_EXPONENT",
    "DEFAULT_LOWEST_EXPONENT",
    "EMPTY_SNAPSHOT",
    "SUB_BUCKETS",
    "HistogramSnapshot",
    "LogLinearHistogram",
    "merge",
]

SUB_BUCKETS = 64
DEFAULT_LOWEST_EXPONENT = -20  # 2**-20 s ≈ 0.95 µs
DEFAULT_HIGHEST_EXPONENT = 12  # 2**12 s ≈ 68 min
BATCH = 128  # values buffered before they are counted
_BATCH_PACK = struct.Struct(f"{BATCH}f")  # native single-precision floats


def _pack(values: list[float]) -> bytes:
    return struct.pack(f"{len(values)}f", *values)


_FLOAT32_MAX = 3.4028234663852886e38
_KEY_SLACK = 256  # keys of out-of-range values kept before they are merged
_EXPONENT_BIAS = 127  # of a single-precision float: the keys' exponent field
_LOWEST_SUPPORTED, _HIGHEST_SUPPORTED = -126, 127  # normal single-precision exponents
_SIGN_KEY = 0x8000  # a key with the sign bit set: a negative value (or -0.0)
_HIGH_HALF = 1 if sys.byteorder == "little" else 0  # where a float's high 16 bits are


def _counter() -> Callable[[dict[int, int], Iterable[int]], None]:
    """``collections``' C counting loop (what ``Counter.update`` calls), else Python."""
    found = getattr(collections, "_count_elements", None)
    if callable(found):
        return found  # type: ignore[no-any-return]

    def count(mapping: dict[int, int], keys: Iterable[int]) -> None:  # pragma: no cover
        for key in keys:
            mapping[key] = mapping.get(key, 0) + 1

    return count


_count = _counter()


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """An immutable view of a histogram: non-empty buckets, count and exact sum.

    ``bounds[i]`` is the (exclusive) upper bound of bucket ``i`` and ``counts[i]`` the
    number of values in it (not cumulative); buckets are ascending and only non-empty
    ones are listed. ``lower_bounds[i]`` is the bucket's lower bound.
    """

    count: int
    sum: float
    lower_bounds: tuple[float, ...]
    bounds: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def mean(self) -> float:
        """The exact mean (``sum / count``), 0.0 when empty."""
        return self.sum / self.count if self.count else 0.0

    @property
    def max(self) -> float:
        """The largest value, to within the bucket resolution (0.0 when empty)."""
        return self._representative(len(self.counts) - 1) if self.count else 0.0

    @property
    def min(self) -> float:
        """The smallest value, to within the bucket resolution (0.0 when empty)."""
        return self._representative(0) if self.count else 0.0

    def percentile(self, p: float) -> float:
        """The value at percentile ``p`` (0-100), within 1 % relative error; 0.0 if empty."""
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100:
            raise ValueError(f"percentile must be a number in [0, 100], got {p!r}")
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(p / 100 * self.count))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return self._representative(index)
        return self._representative(len(self.counts) - 1)

    def quantile(self, q: float) -> float:
        """The value at quantile ``q`` (0-1); ``quantile(0.99) == percentile(99)``."""
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 1:
            raise ValueError(f"quantile must be a number in [0, 1], got {q!r}")
        return self.percentile(q * 100)

    def cumulative(self, upper_bounds: Sequence[float]) -> tuple[int, ...]:
        """Counts of values ``<= b`` for each of ``upper_bounds`` (Prometheus ``le`` buckets).

        A bucket is attributed to the first bound at or above its midpoint, so a value
        may land one explicit bucket off when a bound cuts a log-linear bucket (< 1 %).
        """
        result = []
        reps = [self._representative(i) for i in range(len(self.counts))]
        seen = 0
        index = 0
        for bound in upper_bounds:
            while index < len(reps) and reps[index] <= bound:
                seen += self.counts[index]
                index += 1
            result.append(seen)
        return tuple(result)

    def minus(self, earlier: HistogramSnapshot) -> HistogramSnapshot:
        """The values recorded since ``earlier`` (a snapshot of the same histogram)."""
        before = dict(zip(earlier.bounds, earlier.counts, strict=True))
        lows, highs, counts = [], [], []
        for low, high, count in zip(self.lower_bounds, self.bounds, self.counts, strict=True):
            delta = count - before.get(high, 0)
            if delta > 0:
                lows.append(low)
                highs.append(high)
                counts.append(delta)
        return HistogramSnapshot(
            count=max(0, self.count - earlier.count),
            sum=self.sum - earlier.sum,
            lower_bounds=tuple(lows),
            bounds=tuple(highs),
            counts=tuple(counts),
        )

    def _representative(self, index: int) -> float:
        return (self.lower_bounds[index] + self.bounds[index]) / 2


EMPTY_SNAPSHOT = HistogramSnapshot(0, 0.0, (), (), ())


class LogLinearHistogram:
    """Counts of values in log-linear buckets; fixed memory, for one event loop.

    ``record`` appends to a small buffer (at most :data:`BATCH` values) that is folded
    into the counts when full and before every snapshot: the per-value work runs in C,
    in one call per batch, instead of Python code per value. Counts are kept per
    *key* (twice the bucket resolution, see the module docstring) and merged into
    buckets when a snapshot is taken.
    """

    __slots__ = ("_base", "_highest", "_keys", "_lowest", "_max_keys", "_pending", "_sum")

    def __init__(
        self,
        lowest_exponent: int = DEFAULT_LOWEST_EXPONENT,
        highest_exponent: int = DEFAULT_HIGHEST_EXPONENT,
    ) -> None:
        if not _LOWEST_SUPPORTED <= lowest_exponent < highest_exponent <= _HIGHEST_SUPPORTED:
            raise ValueError(
                f"need {_LOWEST_SUPPORTED} <= lowest_exponent < highest_exponent <= "
                f"{_HIGHEST_SUPPORTED}, got {lowest_exponent}, {highest_exponent}"
            )
        self._lowest = lowest_exponent
        self._highest = (highest_exponent - lowest_exponent) * SUB_BUCKETS - 1
        self._base = (_EXPONENT_BIAS + lowest_exponent) * SUB_BUCKETS  # key >> 1 of bucket 0
        self._keys: dict[int, int] = {}  # count per key (a single-precision float's top half)
        self._max_keys = 2 * (self._highest + 1) + _KEY_SLACK  # in range, clamped, slack
        self._pending: list[float] = []
        self._sum = 0.0

    def record(self, value: float) -> None:
        """Add one value (seconds). Negative or zero values count in the lowest bucket."""
        pending = self._pending
        pending.append(value)
        if len(pending) >= BATCH:
            self.fold()

    def record_many(self, values: Iterable[float]) -> None:
        """Add several values (seconds) at once: one call, counted in batches as usual."""
        pending = self._pending
        pending.extend(values)
        if len(pending) >= BATCH:
            self.fold()

    def fold(self) -> None:
        """Count the buffered values (in C: pack as floats, read the top halves, count)."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        try:
            total = sum(pending)
            packed = _BATCH_PACK.pack(*pending) if len(pending) == BATCH else _pack(pending)
        except OverflowError:  # a finite value beyond single precision (Python >= 3.12)
            packed = _pack([min(max(v, -_FLOAT32_MAX), _FLOAT32_MAX) for v in pending])
        except (TypeError, struct.error):
            self._refuse_non_numbers(pending)
        self._sum += total
        keys = self._keys
        _count(keys, memoryview(packed).cast("H")[_HIGH_HALF::2])
        if len(keys) > self._max_keys:
            self._clamp_keys()

    def _refuse_non_numbers(self, pending: list[float]) -> NoReturn:
        """Count the batch's numbers, then name what was not one (nothing else is lost)."""
        bad = [v for v in pending if not isinstance(v, int | float)]
        self._pending = [v for v in pending if isinstance(v, int | float)]
        self.fold()
        shown = ", ".join(repr(v) for v in bad[:3])
        raise TypeError(
            f"histogram values must be real numbers (seconds); refused {len(bad)}: {shown}"
        )

    def _index(self, key: int) -> int:
        """The bucket of a key (values outside the range: the first or last bucket)."""
        index = 0 if key >= _SIGN_KEY else (key >> 1) - self._base  # negative: the first
        if index < 0:
            return 0  # also 0.0 and values below the range
        return min(index, self._highest)  # also inf and nan (exponent all ones)

    def _clamp_keys(self) -> None:
        """Merge the keys of out-of-range values into the first and last buckets' keys,
        so at most two keys per bucket and a few more are ever kept (fixed memory)."""
        keys = self._keys
        first, last = self._base << 1, (self._base + self._highest) << 1
        for key in [k for k in keys if not first <= k <= last + 1]:
            target = first if self._index(key) == 0 else last
            keys[target] = keys.get(target, 0) + keys.pop(key)

    def counts(self) -> list[int]:
        """The count of each bucket (a new list; 2,048 buckets by default)."""
        self.fold()
        counts = [0] * (self._highest + 1)
        index = self._index
        for key, seen in self._keys.items():
            counts[index(key)] += seen
        return counts

    @property
    def sum(self) -> float:
        """The exact sum of every recorded value."""
        self.fold()
        return self._sum

    def bucket_bounds(self, index: int) -> tuple[float, float]:
        """The ``[lower, upper)`` range of bucket ``index``."""
        octave, sub = divmod(index, SUB_BUCKETS)
        base = math.ldexp(1.0, self._lowest + octave)
        width = base / SUB_BUCKETS
        return base + sub * width, base + (sub + 1) * width

    def snapshot(self) -> HistogramSnapshot:
        """An immutable copy of the non-empty buckets."""
        lows, highs, counts = [], [], []
        total = 0
        for index, count in enumerate(self.counts()):
            if count:
                low, high = self.bucket_bounds(index)
                lows.append(low)
                highs.append(high)
                counts.append(count)
                total += count
        return HistogramSnapshot(total, self._sum, tuple(lows), tuple(highs), tuple(counts))


def merge(snapshots: Sequence[HistogramSnapshot]) -> HistogramSnapshot:
    """Add snapshots of histograms with the same bucket layout."""
    if len(snapshots) == 1:
        return snapshots[0]
    table: dict[float, list[float]] = {}
    for snap in snapshots:
        for low, high, count in zip(snap.lower_bounds, snap.bounds, snap.counts, strict=True):
            entry = table.setdefault(high, [low, 0])
            entry[1] += count
    highs = sorted(table)
    return HistogramSnapshot(
        count=sum(s.count for s in snapshots),
        sum=sum(s.sum for s in snapshots),
        lower_bounds=tuple(table[h][0] for h in highs),
        bounds=tuple(highs),
        counts=tuple(int(table[h][1]) for h in highs),
    )
