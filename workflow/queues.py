"""Dead-letter queues: where a failed delivery waits for a person, encrypted and reachable over TLS only."""

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from workflow.nag import acknowledge


def dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    """A queue that keeps failed deliveries for the longest time SQS allows, so nobody misses them over a holiday."""
    queue = sqs.Queue(
        scope,
        construct_id,
        # SQS managed keys (not a customer key): EventBridge and Lambda can write to them with no key policy.
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself a dead-letter queue; its depth is alarmed on instead.",
    )
    return queue
