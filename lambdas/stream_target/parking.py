"""Park the stream records that can never become events: one message each on the failed-records queue.

A record whose image breaks the booking rules fails the same way on every retry, so retrying it only holds back
the records behind it. Parking writes down which record it was and which attributes were wrong, so a person can
look at the item, and lets the batch go on. The message names attributes, never their values: the images hold the
guest's name and email address.
"""

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from shared.contract import PARTITION_KEY
from shared.observability import logger

MAX_MESSAGES_PER_CALL = 10
PARK_REASON = "record cannot be mapped"


def reservation_id_of(record: dict[str, Any]) -> str | None:
    """The reservation id in the record's key (not its images), or None if the key is not there or not a string."""
    change = record.get("dynamodb")
    keys = change.get("Keys") if isinstance(change, dict) else None
    key = keys.get(PARTITION_KEY) if isinstance(keys, dict) else None
    value = key.get("S") if isinstance(key, dict) else None
    return value if isinstance(value, str) else None


def parked_message(record: dict[str, Any], invalid_attributes: Sequence[str]) -> dict[str, Any]:
    """What the queue keeps of a record that cannot be mapped: where it sits in the stream and what was wrong."""
    change = record.get("dynamodb")
    change = change if isinstance(change, dict) else {}
    return {
        "reason": PARK_REASON,
        "invalidAttributes": list(invalid_attributes),
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "sequenceNumber": change.get("SequenceNumber"),
        "keys": {PARTITION_KEY: reservation_id_of(record)},
        "approximateCreationDateTime": change.get("ApproximateCreationDateTime"),
    }


def send_messages(client: Any, queue_url: str, messages: Sequence[dict[str, Any]]) -> list[str | None]:
    """SendMessageBatch ``messages`` in order, in chunks of ten, until a chunk has a failure.

    Returns, per message sent, None if SQS took it or the reason it did not. The list is shorter than ``messages``
    when a chunk failed: the messages after that chunk were never sent, since their records fail anyway.
    """
    outcome: list[str | None] = []
    for start in range(0, len(messages), MAX_MESSAGES_PER_CALL):
        chunk = messages[start : start + MAX_MESSAGES_PER_CALL]
        entries = [
            {"Id": str(index), "MessageBody": json.dumps(message, separators=(",", ":"))}
            for index, message in enumerate(chunk)
        ]
        try:
            response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as err:
            logger.exception("SendMessageBatch call failed", messages=len(chunk))
            outcome.extend([type(err).__name__] * len(chunk))
            break
        refused = {failed.get("Id"): failed.get("Code") or "Failed" for failed in response.get("Failed", [])}
        sent = {successful.get("Id") for successful in response.get("Successful", [])}
        for entry in entries:
            if entry["Id"] in refused:
                outcome.append(refused[entry["Id"]])
            else:
                outcome.append(None if entry["Id"] in sent else "MissingResult")
        if any(outcome[start:]):
            break
    return outcome
