"""Feature flags on a Bastion state store, with an audited journal and stable bucketing.

::

    from bastion.flags import Flag, Flags, Rule
    from bastion.persistence import MemoryStore

    async with await Flags.open(MemoryStore(), namespace="flags") as flags:
        await flags.define(Flag.boolean("new-parser"), actor="ana", reason="ticket 42")
        await flags.set_percentage("new-parser", 5, actor="ana", reason="canary")
        ev = flags.evaluate("new-parser", "user-17", {"plan": "pro"})
        ev.value, ev.variant, ev.reason   # e.g. False, "off", Reason.DEFAULT

The public contract (``docs/rollout.md``, section "Flags"):

* :class:`Flag` — an immutable definition: named ``variants`` (JSON values), the
  ``default`` (baseline) variant, an optional ``canary`` variant served to
  ``percentage`` percent of targeting keys, targeting :class:`Rule` s (by key or by
  attribute), an optional weighted ``split`` over variants, and the kill switch
  ``enabled``. ``Flag.boolean(key)`` builds the common on/off flag.
* :class:`Flags` — the service: ``await Flags.open(store, namespace="flags")``;
  ``evaluate(key, targeting_key, attributes=None) -> Evaluation`` is synchronous and
  cheap, and sets the metrics cohort of the running context to ``"<key>=<variant>"``
  (:func:`bastion.telemetry.set_cohort`; ``cohort=False`` to skip, ``scope()`` to limit
  it to a block). Changes are awaited and audited: ``define``, ``set``,
  ``set_percentage`` (the rollout's exposure knob: raising it only adds keys, ``0`` is
  the rollback), ``kill``; each returns its :class:`FlagChange`, and takes
  ``expected_version=`` for a compare-and-set against ``flags.version(key)``. ``get``, ``list``,
  ``history``, ``quarantined`` read; ``subscribe(callback) -> unsubscribe`` announces
  changes; ``refresh()`` picks up other processes' changes.
* Bucketing: ``sha1(f"{salt}.{targeting_key}")`` (first 60 bits; ``salt`` defaults to
  the flag key), identical in every process and run; see :func:`bucket`.
* Errors (all :class:`~bastion.BastionError`): :class:`UnknownFlag`,
  :class:`FlagExists`, :class:`FlagConflict`, :class:`FlagStoreCorrupt` (a flag whose
  stored data is unreadable is moved to the store's quarantine, nothing deleted, and
  refuses every use until defined again). Bad arguments are ``ValueError``/``TypeError``.

The OpenFeature provider is :class:`bastion.flags.openfeature.BastionProvider` (extra
``bastion[openfeature]``). Flags Bastion itself declares: :mod:`bastion.flags._builtin`
(``ERROR_CONTEXT_MODE``).
"""

from __future__ import annotations

from bastion._public import publish
from bastion.flags._bucket import BUCKETS, bucket, bucket_fraction
from bastion.flags._builtin import (
    DEMO_STEP_IMPL,
    ERROR_CONTEXT_MODE,
    follow_error_context_mode,
)
from bastion.flags._errors import (
    FlagConflict,
    FlagError,
    FlagExists,
    FlagStoreCorrupt,
    UnknownFlag,
)
from bastion.flags._evaluate import Evaluation, Reason
from bastion.flags._journal import ChangeAction, FlagChange, flag_to_dict
from bastion.flags._model import MAX_KEY, MAX_VARIANT, Flag, Rule
from bastion.flags._service import Flags, Subscriber
from bastion.flags._storage import FlagsStatistics, QuarantinedFlag

__all__ = [
    "bucket",
    "bucket_fraction",
    "BUCKETS",
    "ChangeAction",
    "DEMO_STEP_IMPL",
    "ERROR_CONTEXT_MODE",
    "Evaluation",
    "Flag",
    "flag_to_dict",
    "FlagChange",
    "FlagConflict",
    "FlagError",
    "FlagExists",
    "Flags",
    "FlagsStatistics",
    "FlagStoreCorrupt",
    "follow_error_context_mode",
    "MAX_KEY",
    "MAX_VARIANT",
    "QuarantinedFlag",
    "Reason",
    "Rule",
    "Subscriber",
    "UnknownFlag",
]

publish(globals(), "bastion.flags")
