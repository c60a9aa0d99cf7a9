"""The email workflow: the ASL file, with the names it needs substituted in, run as a Standard state machine."""

from pathlib import Path
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.shared import contract
from workflow.functions import LOG_RETENTION
from workflow.nag import acknowledge

ASL_FILE: Final[Path] = Path(__file__).resolve().parent.parent / "statemachine" / "booking_emails.asl.json"
# Long enough for every retry of the ASL to run its course; an execution still running after it is stuck.
EXECUTION_TIMEOUT: Final[Duration] = Duration.minutes(30)


class BookingEmailsStateMachine(Construct):
    """Routes a booking event to the right email function and records an email that could not be sent."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        restaurant_email: lambda_.IFunction,
        guest_email: lambda_.IFunction,
        reservations: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)

        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(ASL_FILE)),
            definition_substitutions={
                "DetailTypeBooked": contract.DETAIL_TYPE_BOOKED,
                "DetailTypeConfirmed": contract.DETAIL_TYPE_CONFIRMED,
                "RestaurantEmailFunctionArn": restaurant_email.function_arn,
                "GuestEmailFunctionArn": guest_email.function_arn,
                "ReservationTableName": reservations.table_name,
            },
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group,
                level=sfn.LogLevel.ALL,
                # Every state's transitions are logged, but not their data: the inputs and outputs are events of
                # the guests' bookings, and the execution history in Step Functions already keeps them for 90 days.
                include_execution_data=False,
            ),
        )

        # The ASL names the unqualified function ARNs, so no version or alias wildcard is granted.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[restaurant_email.function_arn, guest_email.function_arn],
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[reservations.table_arn])
        )

        acknowledge(
            self.state_machine,
            "AwsSolutions-IAM5[Resource::*]",
            "Log delivery (logs:CreateLogDelivery and the like) and X-Ray tracing support no resource-level "
            "permissions.",
        )
