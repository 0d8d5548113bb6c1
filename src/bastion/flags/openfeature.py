"""The OpenFeature provider for Bastion flags (install the extra: ``bastion[openfeature]``).

::

    from openfeature import api
    from bastion.flags.openfeature import BastionProvider

    api.set_provider(BastionProvider(flags))
    client = api.get_client()
    client.get_boolean_value("new-parser", False, EvaluationContext("user-17"))

See ``docs/rollout.md`` ("OpenFeature").
"""

from __future__ import annotations

try:
    import openfeature  # noqa: F401 -- fail here with the extra's name
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "bastion.flags.openfeature needs openfeature-sdk: pip install 'bastion[openfeature]'"
    ) from exc

from bastion._public import publish
from bastion.flags._openfeature import BastionProvider

__all__ = ["BastionProvider"]

publish(globals(), "bastion.flags.openfeature")
