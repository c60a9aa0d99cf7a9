"""The stream target: turns qualifying changes of the reservations table into events on the booking bus."""

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from lambdas.shared import contract
from workflow.functions import BookingFunction, FunctionSpec
from workflow.queues import dead_letter_queue

BATCH_SIZE = 10
# NOTE: short on purpose: a guest waits for the restaurant's email behind this window.
MAX_BATCHING_WINDOW = Duration.seconds(1)
RETRY_ATTEMPTS = 5
MAX_RECORD_AGE = Duration.hours(1)


def stream_filters() -> list[Mapping[str, Any]]:
    """Only the records that become events reach the function: a new PENDING booking, and PENDING → CONFIRMED."""
    booked = {
        "eventName": lambda_.FilterRule.is_equal("INSERT"),
        "dynamodb": {"NewImage": {"status": {"S": lambda_.FilterRule.is_equal(contract.STATUS_PENDING)}}},
    }
    confirmed = {
        "eventName": lambda_.FilterRule.is_equal("MODIFY"),
        "dynamodb": {
            "OldImage": {"status": {"S": lambda_.FilterRule.is_equal(contract.STATUS_PENDING)}},
            "NewImage": {"status": {"S": lambda_.FilterRule.is_equal(contract.STATUS_CONFIRMED)}},
        },
    }
    return [lambda_.FilterCriteria.filter(booked), lambda_.FilterCriteria.filter(confirmed)]


class StreamTarget(Construct):
    """The stream target function, its event source mapping and the queue of the batches it could not publish."""

    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.ITable, bus: events.IEventBus) -> None:
        super().__init__(scope, construct_id)

        # The on-failure destination of the event source mapping; the function also parks on it the records that
        # can never be mapped, so they stop holding back the records behind them.
        self.dead_letter_queue = dead_letter_queue(self, "FailedRecords")
        self.handler = BookingFunction(
            self,
            "Handler",
            FunctionSpec(
                handler="stream_target.handler.handler",
                service="stream_target",
                description="Publishes booking events from the reservations table stream",
                environment={
                    contract.EnvVar.EVENT_BUS_NAME: bus.event_bus_name,
                    contract.EnvVar.FAILED_RECORDS_QUEUE_URL: self.dead_letter_queue.queue_url,
                },
                unscoped_actions_reason="dynamodb:ListStreams, which the event source mapping needs, supports none "
                "either; the stream reads themselves are granted on the table's stream only.",
            ),
        )
        bus.grant_put_events_to(self.handler.role)
        # NOTE: the on_failure destination below grants SendMessage too (for Lambda's own use of the role); this
        # grant is the function's, and stays if the destination ever changes.
        self.dead_letter_queue.grant(self.handler.role, "sqs:SendMessage")

        self.handler.function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=BATCH_SIZE,
                max_batching_window=MAX_BATCHING_WINDOW,
                bisect_batch_on_error=True,
                retry_attempts=RETRY_ATTEMPTS,
                max_record_age=MAX_RECORD_AGE,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.dead_letter_queue),
                filters=stream_filters(),
            )
        )
