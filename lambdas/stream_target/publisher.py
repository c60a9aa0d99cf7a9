"""Put events on the bus in batches of at most ten, and say which of them EventBridge did not take."""

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from shared.observability import logger

MAX_ENTRIES_PER_CALL = 10


def put_entries(client: Any, entries: Sequence[dict[str, str]]) -> list[str | None]:
    """PutEvents ``entries`` in order, in chunks of ten, until a chunk has a failure.

    Returns, per entry sent, None if accepted or the reason it was not. The list is shorter than ``entries`` when a
    chunk failed: the entries after that chunk were never sent (see stream_target.handler.publish for why).
    """
    outcome: list[str | None] = []
    for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
        chunk = entries[start : start + MAX_ENTRIES_PER_CALL]
        try:
            response = client.put_events(Entries=list(chunk))
        except (ClientError, BotoCoreError) as err:
            # NOTE: the whole call failed, so every entry of this chunk is retried through its stream record.
            logger.exception("PutEvents call failed", entries=len(chunk))
            outcome.extend([type(err).__name__] * len(chunk))
            break
        results = response.get("Entries", [])
        for index in range(len(chunk)):
            result = results[index] if index < len(results) else {"ErrorCode": "MissingResult"}
            error = result.get("ErrorCode")
            if not error and not result.get("EventId"):
                error = "NoEventId"
            outcome.append(error or None)
        if any(outcome[start:]):
            break
    return outcome
