"""DynamoDB stream → EventBridge: one event per booking or confirmation, partial batch failures reported.

The batch is mapped, the records that can never be mapped are parked on the failed-records queue, and the events
are put in order, in chunks of ten, up to the first failure (see ``publish``); then Powertools walks the records and
raises for the failed one and every record after it, so the partial batch response (identified by each record's
SequenceNumber) is Powertools' own.
"""

from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from shared.config import load_stream_target_config
from shared.errors import EventNotPublished, RecordHeldBack, RecordNotMappable
from shared.observability import logger, metrics, tracer

from stream_target.mapping import BookingEvent, map_record
from stream_target.parking import parked_message, reservation_id_of, send_messages
from stream_target.publisher import put_entries

CONFIG = load_stream_target_config()
EVENTS = boto3.client("events")
SQS = boto3.client("sqs")

# NOTE: a batch whose every record fails is reported as a partial failure of all of them rather than raised;
# Lambda retries it the same way, and the response keeps one shape.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def _sequence_number(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def _park(records: list[dict[str, Any]], unmappable: list[tuple[int, RecordNotMappable]]) -> int | None:
    """Park each record that cannot be mapped, in order; return the index of the first that SQS did not take."""
    if not unmappable:
        return None
    messages = [parked_message(records[index], err.attributes) for index, err in unmappable]
    outcomes = send_messages(SQS, CONFIG.failed_records_queue_url, messages)
    for position, (index, err) in enumerate(unmappable):
        record = records[index]
        error = outcomes[position] if position < len(outcomes) else "NotSent"
        if error is not None:
            logger.error(
                "Stream record not parked",
                reservationId=reservation_id_of(record),
                sequenceNumber=_sequence_number(record),
                errorCode=error,
            )
            return index
        logger.warning(
            "Stream record parked",
            reservationId=reservation_id_of(record),
            invalidAttributes=list(err.attributes),
            sequenceNumber=_sequence_number(record),
        )
        metrics.add_metric(name="StreamRecordParked", unit="Count", value=1)
    return None


@tracer.capture_method
def publish(records: list[dict[str, Any]]) -> dict[str, Exception]:
    """Publish the batch as far as it can go in order; return the error of each failed record by sequence number.

    The rule: a record is reported as succeeded only if every record before it succeeded too. DynamoDB streams are
    ordered per shard, and with ReportBatchItemFailures Lambda checkpoints before the lowest failed sequence
    number and redelivers that record and every later one.

    A record that cannot be mapped (an item written around the API, with attributes no booking could have) is a
    permanent failure: no retry can fix it. So it is parked, not retried: a message naming it and its wrong
    attributes goes to the failed-records queue, and the record then counts as done, so the records behind it are
    published in this invocation. Only if SQS does not take that message does the record fail, with
    RecordNotMappable, as the first failure of the batch.

    The events of the records before the first failure are put in order, and no call is made after a call with a
    refused entry (a transient failure, which the retry may fix). The first record that could not be parked or
    whose event was not accepted fails with its own error, and every later record is held back (RecordHeldBack)
    for the retry, events or none.

    NOTE: EventBridge accepts or refuses each entry of one PutEvents call on its own, so entries after a refused
    one in the same call may already be on the bus when their records are redelivered; their events are then put
    again, and the email functions' idempotency key (reservation id and detail-type) keeps the email single.
    Likewise a record parked behind a refused event is parked again when it is redelivered: the queue may then
    hold two messages with the same sequenceNumber.
    """
    events: list[tuple[int, BookingEvent]] = []
    unmappable: list[tuple[int, RecordNotMappable]] = []
    for index, record in enumerate(records):
        try:
            event = map_record(record)
        except RecordNotMappable as err:
            unmappable.append((index, err))
            continue
        if event is not None:
            events.append((index, event))

    first_failure: tuple[int, Exception] | None = None
    not_parked = _park(records, unmappable)
    if not_parked is not None:
        first_failure = (not_parked, next(err for index, err in unmappable if index == not_parked))
        events = [(index, event) for index, event in events if index < not_parked]

    outcomes = put_entries(EVENTS, [event.as_entry(CONFIG.event_bus_name) for _, event in events])
    # zip stops at the last entry sent: put_entries sends nothing after a refused entry's call.
    for (index, event), error in zip(events, outcomes, strict=False):
        if error is not None:
            logger.error(
                "Event not emitted", reservationId=event.reservation_id, detailType=event.detail_type, errorCode=error
            )
            first_failure = (index, EventNotPublished(f"EventBridge refused the event: {error}"))
            break
        logger.info("Event emitted", reservationId=event.reservation_id, detailType=event.detail_type)
        metrics.add_metric(name=f"{event.detail_type}Emitted", unit="Count", value=1)

    if first_failure is None:
        return {}
    failed_at, cause = first_failure
    held_back = records[failed_at + 1 :]
    if held_back:
        logger.info("Stream records held back for the retry", records=len(held_back))
    failures: dict[str, Exception] = {_sequence_number(records[failed_at]): cause}
    for record in held_back:
        failures[_sequence_number(record)] = RecordHeldBack("an earlier record of the batch failed")
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
