"""The alarms that tell a person the booking flow has stopped, and the topic they are sent to."""

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

PERIOD = Duration.minutes(5)
# The stream target is behind when its oldest record waits longer than this; guests notice after a few minutes.
MAX_ITERATOR_AGE_MS = 60_000


class BookingMonitoring(Construct):
    """Alarms on failed and timed out executions, dead letters, stream lag and function errors."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        dead_letter_queues: dict[str, sqs.IQueue],
        stream_target: lambda_.IFunction,
        functions: dict[str, lambda_.IFunction],
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)

        # A customer key: CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key.
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts the booking alarm topic",
            enable_key_rotation=True,
            # It only encrypts alarm notifications in transit through SNS: nothing stored needs it after the stack.
            removal_policy=RemovalPolicy.DESTROY,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "Alarms", display_name="Restaurant booking alarms", master_key=key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        self.alarms: list[cloudwatch.Alarm] = []
        self._at_least_one("ExecutionsFailed", state_machine.metric_failed(period=PERIOD), "An email workflow failed")
        self._at_least_one(
            "ExecutionsTimedOut", state_machine.metric_timed_out(period=PERIOD), "An email workflow timed out"
        )
        for name, queue in dead_letter_queues.items():
            self._at_least_one(
                f"{name}Depth",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"{name} holds messages that were never delivered",
            )
        self._add(
            "StreamIteratorAge",
            stream_target.metric("IteratorAge", period=PERIOD, statistic="Maximum"),
            threshold=MAX_ITERATOR_AGE_MS,
            operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description="The stream target is falling behind the reservations table",
        )
        for name, function in sorted(functions.items()):
            self._at_least_one(
                f"{name}Errors", function.metric_errors(period=PERIOD), f"The {name} function is failing"
            )

    def _at_least_one(self, alarm_id: str, metric: cloudwatch.IMetric, description: str) -> None:
        self._add(
            alarm_id,
            metric,
            threshold=1,
            operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=description,
        )

    def _add(
        self,
        alarm_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        operator: cloudwatch.ComparisonOperator,
        description: str,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            alarm_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=operator,
            evaluation_periods=1,
            alarm_description=description,
            # No data means nothing happened: no booking, no failure.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
