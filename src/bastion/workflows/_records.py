"""How a workflow is stored: one namespace per workflow, plus an index of active ones.

Namespace ``workflow/<id>``:

* record ``meta``: :class:`Meta` (name, version, status, timestamps, result or error);
* record ``input``: the arguments, written once at start;
* record ``fence``: an empty record whose version is bumped by every write of the run
  that owns the workflow (compare-and-set) and unconditionally by a cancellation, so a
  cancelled (or stale) run's late write is rejected whole;
* collection ``steps``: one :class:`StepRecord` per step number (item key zero-padded,
  so the store returns them in order);
* collection ``inbox``: messages not yet received (``<topic>\\x00<sequence>``);
* collection ``events``: the values of ``set_event`` by key.

Namespace ``workflow-index``, collection ``active``: one item per workflow that is not
finished (its name), so an engine finds the work to resume with one read.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from bastion.persistence import CorruptState

__all__ = [
    "ACTIVE_COLLECTION",
    "EVENTS",
    "FENCE",
    "INBOX",
    "INDEX_NAMESPACE",
    "INPUT",
    "META",
    "NULL",
    "NAMESPACE_PREFIX",
    "STEPS",
    "Input",
    "Meta",
    "StepKind",
    "StepRecord",
    "StepStatus",
    "WorkflowStatus",
    "decode_input",
    "decode_meta",
    "decode_step",
    "encode",
    "inbox_key",
    "namespace_of",
    "step_key",
    "workflow_id_of",
]

NAMESPACE_PREFIX = "workflow/"
INDEX_NAMESPACE = "workflow-index"
ACTIVE_COLLECTION = "active"
META = "meta"
INPUT = "input"
FENCE = "fence"
STEPS = "steps"
INBOX = "inbox"
EVENTS = "events"


#: A recorded ``None`` (the default of every value field; omitted when stored).
NULL = msgspec.Raw(b"null")


class WorkflowStatus(enum.StrEnum):
    """Where a workflow is in its life (stored as the value)."""

    RUNNING = "running"  #: accepted and not finished (running, sleeping, waiting, queued)
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether the workflow reached a final status."""
        return self is not WorkflowStatus.RUNNING


class StepKind(enum.StrEnum):
    """What a recorded step number holds."""

    STEP = "step"
    SLEEP = "sleep"
    RECV = "recv"
    SEND = "send"
    SET_EVENT = "set_event"
    GET_EVENT = "get_event"
    PATCH = "patch"


class StepStatus(enum.StrEnum):
    """The state of one recorded step."""

    COMPLETED = "completed"
    FAILED = "failed"  #: failed for good: replay raises StepFailed again
    RETRYING = "retrying"  #: failed, next attempt not before ``not_before``
    WAITING = "waiting"  #: a sleep or a receive, until ``not_before``


class Meta(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The workflow record."""

    name: str
    version: str
    status: WorkflowStatus
    created_at: float
    updated_at: float
    deadline: float | None = None
    result: msgspec.Raw = NULL
    error: str | None = None
    error_type: str | None = None
    forked_from: str | None = None


class Input(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The arguments of the workflow function (after ``ctx``), codec-encoded."""

    args: msgspec.Raw
    kwargs: msgspec.Raw = NULL


class StepRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One recorded step number."""

    name: str
    kind: StepKind = StepKind.STEP
    status: StepStatus = StepStatus.COMPLETED
    result: msgspec.Raw = NULL
    error: str | None = None
    error_type: str | None = None
    attempts: int = 1
    not_before: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    #: the run's fence version when it was written: the order of the records (``_replay``)
    seq: int = 0


_encoder = msgspec.json.Encoder()
_meta_decoder = msgspec.json.Decoder(Meta)
_input_decoder = msgspec.json.Decoder(Input)
_step_decoder = msgspec.json.Decoder(StepRecord)


def encode(value: Meta | Input | StepRecord) -> bytes:
    """The stored bytes of a record."""
    return _encoder.encode(value)


def _decode(decoder: msgspec.json.Decoder[Any], data: bytes, what: str) -> Any:
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise CorruptState(f"{what} does not decode: {exc}") from exc


def decode_meta(data: bytes, workflow_id: str) -> Meta:
    """The meta record of ``workflow_id``; CorruptState if it does not decode."""
    meta: Meta = _decode(_meta_decoder, data, f"workflow {workflow_id!r}: the meta record")
    return meta


def decode_input(data: bytes, workflow_id: str) -> Input:
    """The input record of ``workflow_id``; CorruptState if it does not decode."""
    value: Input = _decode(_input_decoder, data, f"workflow {workflow_id!r}: the input record")
    return value


def decode_step(data: bytes, workflow_id: str, key: str) -> StepRecord:
    """One step record; CorruptState if it does not decode."""
    step: StepRecord = _decode(_step_decoder, data, f"workflow {workflow_id!r}: step {key}")
    return step


def namespace_of(workflow_id: str) -> str:
    """The store namespace of a workflow."""
    return NAMESPACE_PREFIX + workflow_id


def workflow_id_of(namespace: str) -> str:
    """The workflow id of a namespace made by :func:`namespace_of`."""
    return namespace[len(NAMESPACE_PREFIX) :]


def step_key(step_no: int) -> str:
    """The item key of a step number: zero-padded, so keys sort as numbers."""
    return f"{step_no:08d}"


def inbox_key(topic: str, sequence: int) -> str:
    """The item key of a message: by topic, then in the order sent."""
    return f"{topic}\x00{sequence:020d}"
