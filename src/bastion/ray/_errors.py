"""Errors of Ray placement: rooted in ``bastion.ActorError`` (and ``ExpectedError``)."""

from __future__ import annotations

from bastion._core._errors import ActorError, ExpectedError

__all__ = ["NodeLost", "PlacementError", "RemoteCrash", "RemoteExpectedError", "WireError"]


class PlacementError(ActorError):
    """Base of the failures of a placed actor that a local actor cannot have."""


class RemoteCrash(PlacementError):
    """The placed actor crashed on its node.

    The local stand-in crashes with this reason, so its supervisor sees the child's
    crash and callers get :class:`bastion.ActorCrashed` with this as ``__cause__``.
    ``remote_type`` names the exception raised there (``module:QualName``) and
    ``remote_traceback`` is its traceback as text: exceptions are not shipped as objects.
    """

    def __init__(self, message: str, *, remote_type: str = "", remote_traceback: str = "") -> None:
        super().__init__(message, context={"remote_type": remote_type})
        self.remote_type = remote_type
        self.remote_traceback = remote_traceback


class NodeLost(PlacementError):
    """Ray reported the placed actor's process or node dead (``RayActorError``).

    The local stand-in crashes with this reason; its supervisor restarts it, which
    places the actor again on a node that is alive.
    """


class WireError(PlacementError):
    """A message, reply or argument could not cross Ray: it does not encode (declare its
    class in ``ray_placement(messages=...)``) or the bytes that came back do not decode.
    """


class RemoteExpectedError(ExpectedError):
    """An expected error raised on the node whose class is not loaded in this process.

    ``context["remote_type"]`` names it. Expected errors whose class is loaded here come
    back as themselves.
    """
