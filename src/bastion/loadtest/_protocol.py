"""Parent ↔ worker-process messages: msgspec msgpack frames with a 4-byte length prefix.

No pickle: every message is a tagged :class:`msgspec.Struct`, and measurements are
plain dataclasses of numbers (histogram buckets travel as they are, so the parent adds
them exactly).
"""

from __future__ import annotations

import struct

import msgspec

from bastion.loadtest._recorder import Measurements

__all__ = [
    "Done",
    "Failed",
    "Go",
    "Ready",
    "Start",
    "Stop",
    "Tick",
    "decode_frame",
    "frame",
    "read_frame_size",
]

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024


class Start(msgspec.Struct, tag=True):
    """Parent → worker: what to load, and this worker's share."""

    target: str  # "path.py[:name]", or "" with demo
    demo: bool
    worker: int
    users: int | None
    rate: float | None
    think_time: float
    max_in_flight: int
    ramp_up: float
    duration: float | None
    iterations: int | None
    warmup: float
    cooldown: float
    timeout: float
    seed: int | None
    progress_interval: float = 0.5


class Go(msgspec.Struct, tag=True):
    """Parent → worker: every worker is ready, apply the load."""


class Stop(msgspec.Struct, tag=True):
    """Parent → worker: close the window now and report."""


class Ready(msgspec.Struct, tag=True):
    """Worker → parent: set up, waiting for :class:`Go`."""

    pid: int


class Tick(msgspec.Struct, tag=True):
    """Worker → parent: a progress reading."""

    elapsed: float
    phase: str
    iterations: int
    failed: int
    rate: float
    p99_ms: float
    in_flight: int


class Done(msgspec.Struct, tag=True):
    """Worker → parent: the measurements (the last frame)."""

    measurements: Measurements


class Failed(msgspec.Struct, tag=True):
    """Worker → parent: the load test could not run here (one line)."""

    message: str


ToWorker = Start | Go | Stop
FromWorker = Ready | Tick | Done | Failed
_encoder = msgspec.msgpack.Encoder()
_to_worker = msgspec.msgpack.Decoder(ToWorker)
_from_worker = msgspec.msgpack.Decoder(FromWorker)


def frame(message: msgspec.Struct) -> bytes:
    """One length-prefixed frame."""
    body = _encoder.encode(message)
    return HEADER.pack(len(body)) + body


def read_frame_size(header: bytes) -> int:
    """The body size announced by a frame header; ``ValueError`` when implausible."""
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is larger than {MAX_FRAME}")
    return int(size)


def decode_frame(body: bytes, *, to_worker: bool) -> msgspec.Struct:
    """A frame body back into its message (``msgspec.DecodeError`` when corrupt)."""
    decoder = _to_worker if to_worker else _from_worker
    message: msgspec.Struct = decoder.decode(body)
    return message
