"""DynamoDB stream → EventBridge: one event per booking or confirmation, partial batch failures reported.

The whole batch is mapped first and its events put in chunks of ten; then Powertools walks the records and
raises for exactly those that could not be mapped or whose event EventBridge refused, so the partial batch
response (identified by each record's SequenceNumber) is Powertools' own.
"""

from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.config import load_stream_target_config
from shared.errors import EventNotPublished, RecordNotMappable
from shared.observability import logger, metrics, tracer

from stream_target.mapping import BookingEvent, map_record
from stream_target.publisher import put_entries

CONFIG = load_stream_target_config()
EVENTS = boto3.client("events")

# NOTE: a batch whose every record fails is reported as a partial failure of all of them rather than raised;
# Lambda retries it the same way, and the response keeps one shape.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def _sequence_number(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


@tracer.capture_method
def publish(records: list[dict[str, Any]]) -> dict[str, Exception]:
    """Map and publish every record; return the error of each failed record, keyed by sequence number."""
    failures: dict[str, Exception] = {}
    pending: list[tuple[str, BookingEvent]] = []
    for record in records:
        sequence_number = _sequence_number(record)
        try:
            event = map_record(record)
        except RecordNotMappable as err:
            logger.exception("Stream record not mappable", sequenceNumber=sequence_number)
            failures[sequence_number] = err
            continue
        if event is not None:
            pending.append((sequence_number, event))

    entries = [event.as_entry(CONFIG.event_bus_name) for _, event in pending]
    for (sequence_number, event), error in zip(pending, put_entries(EVENTS, entries), strict=True):
        if error is None:
            logger.info("Event emitted", reservationId=event.reservation_id, detailType=event.detail_type)
            metrics.add_metric(name=f"{event.detail_type}Emitted", unit="Count", value=1)
        else:
            logger.error(
                "Event not emitted",
                reservationId=event.reservation_id,
                detailType=event.detail_type,
                errorCode=error,
            )
            failures[sequence_number] = EventNotPublished(f"EventBridge refused the event: {error}")
    return failures


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry point."""
    failures = publish(event.get("Records") or [])

    def fail_if_unpublished(record: DynamoDBRecord) -> None:
        error = failures.get(str(record.dynamodb.sequence_number if record.dynamodb else ""))
        if error is not None:
            raise error

    return process_partial_response(
        event=event, record_handler=fail_if_unpublished, processor=processor, context=context
    )
