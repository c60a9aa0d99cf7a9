"""The booking stack: composes one construct per concern and states what it hands to the outside world."""

from aws_cdk import Aws, CfnOutput, Stack
from constructs import Construct

from workflow.api import BookingApi
from workflow.emails import EmailSenders
from workflow.events import BookingEvents
from workflow.monitoring import BookingMonitoring
from workflow.settings import BookingSettings
from workflow.state_machine import BookingEmailsStateMachine
from workflow.stream_target import StreamTarget
from workflow.tables import BookingTables


class BookingStack(Stack):
    """API → table → stream → bus → state machine → emails, with the alarms that watch each hop."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: BookingSettings, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]

        tables = BookingTables(self, "Tables")
        api = BookingApi(self, "Api", table=tables.reservations)
        booking_events = BookingEvents(self, "Events")
        stream_target = StreamTarget(self, "StreamTarget", table=tables.reservations, bus=booking_events.bus)
        emails = EmailSenders(
            self,
            "Emails",
            settings=settings,
            reservations=tables.reservations,
            idempotency=tables.idempotency,
            api_url=api.rest_api.url,
        )
        workflow = BookingEmailsStateMachine(
            self,
            "BookingEmails",
            restaurant_email=emails.restaurant.function,
            guest_email=emails.guest.function,
            reservations=tables.reservations,
        )
        booking_events.route_to(workflow.state_machine)

        BookingMonitoring(
            self,
            "Monitoring",
            state_machine=workflow.state_machine,
            dead_letter_queues={
                "StreamTargetDeadLetters": stream_target.dead_letter_queue,
                "EventsDeadLetters": booking_events.dead_letter_queue,
            },
            stream_target=stream_target.handler.function,
            functions={
                "BookingApi": api.handler.function,
                "StreamTarget": stream_target.handler.function,
                "RestaurantEmail": emails.restaurant.function,
                "GuestEmail": emails.guest.function,
            },
            alarm_email=settings.alarm_email,
        )

        state_machine_arn = workflow.state_machine.state_machine_arn
        CfnOutput(self, "ApiUrl", value=api.rest_api.url, description="Base URL of the booking API, ends with /")
        CfnOutput(self, "StateMachineArn", value=state_machine_arn)
        CfnOutput(
            self,
            "StateMachineConsoleUrl",
            value=f"https://{Aws.REGION}.console.aws.amazon.com/states/home?region={Aws.REGION}"
            f"#/statemachines/view/{state_machine_arn}",
            description="The email workflow's executions in the Step Functions console",
        )
