"""The booking bus and the rules that start the email workflow for each kind of booking event."""

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.shared import contract
from workflow.queues import dead_letter_queue

# EventBridge keeps retrying a failed StartExecution for this long before it gives the event to the queue.
MAX_EVENT_AGE = Duration.hours(2)
RETRY_ATTEMPTS = 10
RULES = {
    "RestaurantBooked": contract.DETAIL_TYPE_BOOKED,
    "ReservationConfirmed": contract.DETAIL_TYPE_CONFIRMED,
}


class BookingEvents(Construct):
    """A custom event bus; ``route_to`` adds one rule per booking event kind, each starting the workflow."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        self.bus = events.EventBus(self, "Bus", description="Booking events from the reservations table")
        self.dead_letter_queue = dead_letter_queue(self, "UndeliveredEvents")
        self.rules: list[events.Rule] = []

    def route_to(self, state_machine: sfn.IStateMachine) -> None:
        """Start ``state_machine`` with the whole event for each booking event kind."""
        for rule_id, detail_type in RULES.items():
            rule = events.Rule(
                self,
                rule_id,
                event_bus=self.bus,
                description=f"Starts the email workflow for {detail_type}",
                event_pattern=events.EventPattern(source=[contract.EVENT_SOURCE], detail_type=[detail_type]),
            )
            rule.add_target(
                targets.SfnStateMachine(
                    state_machine,
                    dead_letter_queue=self.dead_letter_queue,
                    max_event_age=MAX_EVENT_AGE,
                    retry_attempts=RETRY_ATTEMPTS,
                )
            )
            self.rules.append(rule)
