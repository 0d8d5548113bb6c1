"""Named circuit breakers: one breaker per dependency, shared by every caller."""

from __future__ import annotations

import threading
from typing import Any

from bastion.resilience._breaker import BreakerStatistics, CircuitBreaker

__all__ = ["BreakerRegistry", "breakers", "circuit_breaker"]


class BreakerRegistry:
    """Breakers by name. ``get_or_create`` returns the existing breaker of that name,
    and refuses (``ValueError``) a different configuration for it."""

    def __init__(self) -> None:
        self._breakers: dict[str, tuple[CircuitBreaker, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get_or_create(self, name: str, **config: Any) -> CircuitBreaker:
        """The breaker called ``name``, created with ``config`` on first use."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a breaker name is a non-empty str, got {name!r}")
        with self._lock:
            entry = self._breakers.get(name)
            if entry is None:
                breaker = CircuitBreaker(name, **config)
                self._breakers[name] = (breaker, config)
                return breaker
        breaker, existing = entry
        if config and config != existing:
            raise ValueError(
                f"breaker {name!r} exists with configuration {existing!r}; got {config!r}"
            )
        return breaker

    def get(self, name: str) -> CircuitBreaker:
        """The breaker called ``name``; ``KeyError`` if there is none."""
        entry = self._breakers.get(name)
        if entry is None:
            raise KeyError(f"no circuit breaker named {name!r}")
        return entry[0]

    def remove(self, name: str) -> bool:
        """Forget the breaker called ``name``; ``False`` if there was none."""
        with self._lock:
            return self._breakers.pop(name, None) is not None

    def names(self) -> list[str]:
        """Names of the registered breakers, sorted."""
        return sorted(self._breakers)

    def statistics(self) -> dict[str, BreakerStatistics]:
        """A snapshot of every registered breaker."""
        return {name: breaker.statistics() for name, (breaker, _) in list(self._breakers.items())}


breakers = BreakerRegistry()
"""The process-wide registry used by :func:`circuit_breaker`."""


def circuit_breaker(name: str, **config: Any) -> CircuitBreaker:
    """The process-wide breaker ``name`` (see :class:`CircuitBreaker` for ``config``)::

    payments = circuit_breaker("payments-api", failure_rate=0.5, open_for=10.0)
    receipt = await payments.call(charge, order)
    """
    return breakers.get_or_create(name, **config)
