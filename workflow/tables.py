"""The reservations table, whose stream drives the workflow, and the idempotency table of the email functions."""

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambdas.shared import contract

POINT_IN_TIME_RECOVERY = dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True)


class BookingTables(Construct):
    """Both DynamoDB tables, on demand."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)

        self.reservations = dynamodb.Table(
            self,
            "Reservations",
            partition_key=dynamodb.Attribute(name=contract.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=POINT_IN_TIME_RECOVERY,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            time_to_live_attribute=contract.TTL_ATTRIBUTE,
            # The items hold guests' names and addresses: the AWS managed key makes every use of it visible in
            # CloudTrail, at no key to administer (a customer key would add cost and a key policy to maintain).
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Reservations are the business record: deleting the stack must not delete them. A stack that is torn
            # down leaves the table behind, to be exported or deleted by a person.
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.idempotency = dynamodb.Table(
            self,
            "Idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=POINT_IN_TIME_RECOVERY,
            time_to_live_attribute="expiration",
            # Holds hashes of events and the functions' short-lived results, no guest data: the AWS owned key is
            # enough.
            encryption=dynamodb.TableEncryption.DEFAULT,
            # Its records expire within hours and are rebuilt on demand; nothing is lost with the stack.
            removal_policy=RemovalPolicy.DESTROY,
        )
