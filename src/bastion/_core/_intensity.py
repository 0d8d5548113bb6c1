"""``RestartIntensity``: how many restarts a supervisor allows before it gives up."""

from __future__ import annotations

from dataclasses import dataclass

from bastion._core._durations import positive_seconds

__all__ = ["DEFAULT_INTENSITY", "RestartIntensity"]


@dataclass(frozen=True, slots=True)
class RestartIntensity:
    """At most ``max_restarts`` restarts within ``max_seconds`` (runtime clock).

    One more restart inside the window makes the supervisor stop its children and crash
    with :class:`RestartIntensityExceeded`, which its own supervisor sees as a child
    crash (escalation). Defaults are Elixir's: 3 restarts in 5 seconds.
    ``max_restarts=0`` never restarts. Bad values raise ``ValueError`` here, once::

        intensity = bastion.RestartIntensity(max_restarts=10, max_seconds=60.0)
        await rt.start_supervisor(children, intensity=intensity)
    """

    max_restarts: int = 3
    max_seconds: float = 5.0

    def __post_init__(self) -> None:
        restarts = self.max_restarts
        if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0:
            raise ValueError(f"max_restarts must be an int >= 0, got {restarts!r}")
        object.__setattr__(self, "max_seconds", positive_seconds("max_seconds", self.max_seconds))


#: Elixir's default: 3 restarts in 5 seconds.
DEFAULT_INTENSITY = RestartIntensity()
