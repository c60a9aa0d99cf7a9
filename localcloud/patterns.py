"""EventBridge content filtering, shared by the bus's rules and Lambda's stream filter criteria.

Both use the same pattern syntax (exact, prefix, anything-but, numeric, exists, ...), so both use moto's
matcher, loaded through here.
"""

import json
from typing import Any, cast

from moto.events.models import EventPattern
from moto.events.utils import EventMessageType


class Pattern:
    """One event pattern, parsed once and matched against many events."""

    def __init__(self, pattern: dict[str, Any] | str) -> None:
        text = pattern if isinstance(pattern, str) else json.dumps(pattern)
        self._matcher = EventPattern.load(text)

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether ``event`` (an EventBridge event or a stream record, as a plain dict) matches."""
        return self._matcher.matches_event(cast(EventMessageType, event))


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether an event matches an event pattern."""
    return Pattern(pattern).matches(event)
