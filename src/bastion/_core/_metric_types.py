"""The read side of metrics: what ``MetricsRegistry.collect()`` returns.

These frozen dataclasses are the stable API exporters build on (see
:mod:`bastion._core._metrics` for the whole contract).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bastion._core._errors import BastionError
from bastion._core._histogram import HistogramSnapshot

__all__ = ["MetricFamily", "MetricKind", "Sample", "UnknownMetric", "check_definition"]

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


class UnknownMetric(BastionError, KeyError):
    """No metric of that name is registered (the message lists the known names)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MetricKind(enum.StrEnum):
    """What a metric's values mean."""

    COUNTER = "counter"  #: monotonic total
    GAUGE = "gauge"  #: current value (up-down counter or set)
    HISTOGRAM = "histogram"  #: distribution of seconds (or another unit)


@dataclass(frozen=True, slots=True)
class Sample:
    """One series of a metric: label values, value, and a histogram snapshot if any."""

    label_values: tuple[str, ...]
    value: float
    histogram: HistogramSnapshot | None = None


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """One metric and all its series at collection time."""

    name: str
    kind: MetricKind
    description: str
    unit: str
    label_names: tuple[str, ...]
    samples: tuple[Sample, ...]

    def sample(self, **labels: str) -> Sample:
        """The sample whose labels match ``labels`` exactly; ``KeyError`` if none."""
        wanted = tuple(labels.get(n) for n in self.label_names)
        for sample in self.samples:
            if sample.label_values == wanted:
                return sample
        raise KeyError(f"{self.name} has no series {labels!r}")

    def total(self, **labels: str) -> float:
        """Sum of ``value`` over the samples matching ``labels`` (a subset of the labels)."""
        return sum(s.value for s in self.samples if _matches(self.label_names, s, labels))


def _matches(names: tuple[str, ...], sample: Sample, labels: Mapping[str, str]) -> bool:
    for name, value in labels.items():
        if name not in names:
            raise ValueError(f"unknown label {name!r}; labels are {names!r}")
        if sample.label_values[names.index(name)] != value:
            return False
    return True


def check_definition(name: str, description: str, labels: Sequence[str]) -> tuple[str, ...]:
    """Validate a metric definition; returns the label names as a tuple."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"metric name must match [a-zA-Z_][a-zA-Z0-9_]*, got {name!r}")
    if not isinstance(description, str) or not description:
        raise ValueError(f"metric {name!r} needs a description")
    if isinstance(labels, str):
        raise TypeError("labels must be a sequence of label names, not a str")
    label_names = tuple(labels)
    for label in label_names:
        if not isinstance(label, str) or not _NAME.match(label):
            raise ValueError(f"label name must match [a-zA-Z_][a-zA-Z0-9_]*, got {label!r}")
    if len(set(label_names)) != len(label_names):
        raise ValueError(f"duplicate label names in {label_names!r}")
    return label_names
