"""Send each email once per reservation and event type, however often the event or the task is repeated.

The key is the reservation id plus the detail-type, so a duplicate event, a duplicate stream record or a
retried Step Functions task finds the stored result and does not send again. A failed attempt stores nothing
(Powertools deletes its in-progress record), so the retry sends.

NOTE: SES sends with no idempotency token, so the send is the last thing the guarded function does: an attempt
that raised came before or from the send itself. Two windows remain where a retry sends a second email: the
function timing out after SES accepted the message, or the success record failing to save. For the restaurant
email the second message carries a new token and overwrites the hash, so its link is the one that works.
"""

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

# EventBridge may deliver an event again for up to a day; a duplicate after that is not expected.
RESULT_RETENTION_SECONDS = 24 * 60 * 60
IDEMPOTENCY_KEY = '[detail.reservationId, "detail-type"]'


def idempotency_config() -> IdempotencyConfig:
    """Key on reservation id and detail-type; an event without them is refused rather than sent unguarded."""
    return IdempotencyConfig(
        event_key_jmespath=IDEMPOTENCY_KEY,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RESULT_RETENTION_SECONDS,
    )


def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    """Idempotency records in ``table_name`` (partition key ``id``, Powertools' default layout)."""
    return DynamoDBPersistenceLayer(table_name=table_name)
