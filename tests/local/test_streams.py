"""Conformance of the local stream event source mapping to what Lambda documents for DynamoDB streams.

Each test drives ``poll_once()`` against a real moto table with a stream and a scripted function.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from localcloud.streams import StreamMapping, StreamPoller
from localcloud.types import InvokeResult

REGION = "us-east-1"
FUNCTION = "StreamTarget"


class FakeClock:
    """A clock the test moves by hand, so waits and ages need no sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class ScriptedFunction:
    """Records every batch it is given and answers from a script, then with success."""

    def __init__(self, *answers: InvokeResult | Callable[[list[dict[str, Any]]], InvokeResult]) -> None:
        self.answers = list(answers)
        self.batches: list[list[dict[str, Any]]] = []
        self.called = threading.Event()

    def __call__(self, function_name: str, event: dict[str, Any]) -> InvokeResult:
        assert function_name == FUNCTION
        self.batches.append(event["Records"])
        self.called.set()
        if not self.answers:
            return InvokeResult(payload=b"null")
        answer = self.answers.pop(0)
        return answer(event["Records"]) if callable(answer) else answer

    def ids(self) -> list[list[str]]:
        return [[record["dynamodb"]["Keys"]["reservationId"]["S"] for record in batch] for batch in self.batches]


def reply(body: Any) -> InvokeResult:
    return InvokeResult(payload=json.dumps(body).encode())


UNHANDLED = InvokeResult(payload=b'{"errorMessage": "boom"}', function_error="Unhandled")


@pytest.fixture
def aws(in_process_aws: None) -> None:
    """moto in this process (tests/local/conftest.py)."""


def clients(service_name: str) -> Any:
    return boto3.client(service_name, region_name=REGION)


@pytest.fixture
def stream_arn(aws: None) -> str:
    table = clients("dynamodb").create_table(
        TableName="Reservations",
        KeySchema=[{"AttributeName": "reservationId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "reservationId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return table["TableDescription"]["LatestStreamArn"]


@pytest.fixture
def dlq_url(aws: None) -> str:
    return clients("sqs").create_queue(QueueName="stream-failures")["QueueUrl"]


DLQ_ARN = f"arn:aws:sqs:{REGION}:123456789012:stream-failures"


def put(*reservation_ids: str, status: str = "PENDING") -> None:
    for reservation_id in reservation_ids:
        clients("dynamodb").put_item(
            TableName="Reservations", Item={"reservationId": {"S": reservation_id}, "status": {"S": status}}
        )


def poller(
    stream_arn: str,
    function: ScriptedFunction,
    clock: FakeClock | None = None,
    backoff_base_s: float = 1.0,
    **settings: Any,
) -> StreamPoller:
    mapping = StreamMapping(function_name=FUNCTION, stream_arn=stream_arn, **settings)
    return StreamPoller(mapping, function, clients, backoff_base_s=backoff_base_s, clock=clock or FakeClock())


def dead_letters(queue_url: str) -> list[dict[str, Any]]:
    messages = clients("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def shard_id(stream_arn: str) -> str:
    return clients("dynamodbstreams").describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]


def sequence_numbers(batch: list[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["SequenceNumber"] for record in batch]


def test_stream_mapping_reads_the_resolved_template_properties() -> None:
    # Given the resolved properties of an AWS::Lambda::EventSourceMapping
    properties = {
        "EventSourceArn": "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2026",
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 2,
        "StartingPosition": "LATEST",
        "FilterCriteria": {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": "true",
        "MaximumRetryAttempts": 3,
        "MaximumRecordAgeInSeconds": 3600,
        "DestinationConfig": {"OnFailure": {"Destination": DLQ_ARN}},
    }

    # When it is read
    mapping = StreamMapping.from_template(properties, FUNCTION)

    # Then every setting is taken, and the unset ones keep Lambda's defaults
    assert mapping == StreamMapping(
        function_name=FUNCTION,
        stream_arn=properties["EventSourceArn"],
        batch_size=10,
        maximum_batching_window_s=2.0,
        starting_position="LATEST",
        filter_patterns=[{"eventName": ["INSERT"]}],
        report_batch_item_failures=True,
        bisect_on_error=True,
        maximum_retry_attempts=3,
        maximum_record_age_s=3600,
        on_failure_arn=DLQ_ARN,
        enabled=True,
    )


def test_stream_poller_success_advances_the_checkpoint_in_batches(stream_arn: str) -> None:
    """Lambda sends up to BatchSize records per invocation and checkpoints after a successful batch."""
    # Given three new items and a batch size of two
    function = ScriptedFunction()
    stream = poller(stream_arn, function, batch_size=2)
    put("r1", "r2", "r3")

    # When the stream is polled until it is drained
    counts = [stream.poll_once() for _ in range(3)]

    # Then the records go in order, two then one, as Lambda shapes them, and the checkpoint is at the last one
    assert counts == [1, 1, 0]
    assert function.ids() == [["r1", "r2"], ["r3"]]
    first = function.batches[0][0]
    assert first["eventSourceARN"] == stream_arn
    assert first["eventName"] == "INSERT"
    assert first["dynamodb"]["NewImage"]["status"] == {"S": "PENDING"}
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], float)
    assert stream.checkpoint(shard_id(stream_arn)) == sequence_numbers(function.batches[1])[-1]


def test_stream_poller_drops_records_that_match_no_filter(stream_arn: str) -> None:
    """A record that matches none of the FilterCriteria is not sent and counts as processed."""
    # Given a filter on the new image's status, one matching and one other record
    function = ScriptedFunction()
    pattern = {"dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}}}
    stream = poller(stream_arn, function, filter_patterns=[pattern])
    put("wanted")
    put("unwanted", status="CONFIRMED")

    # When the stream is polled
    stream.poll_once()

    # Then only the matching record is sent, and the checkpoint moved past the dropped one too
    assert function.ids() == [["wanted"]]
    records = clients("dynamodbstreams").get_records(
        ShardIterator=clients("dynamodbstreams").get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard_id(stream_arn), ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )["Records"]
    assert stream.checkpoint(shard_id(stream_arn)) == records[-1]["dynamodb"]["SequenceNumber"]


def test_stream_poller_retries_from_the_lowest_reported_item_failure(stream_arn: str) -> None:
    """With ReportBatchItemFailures Lambda checkpoints before the lowest failed record and retries from it."""
    # Given a function that reports the third and then the second of four records as failed
    put("r1", "r2", "r3", "r4")
    function = ScriptedFunction(
        lambda batch: reply({"batchItemFailures": [{"itemIdentifier": s} for s in sequence_numbers(batch)[2:0:-1]]})
    )
    stream = poller(stream_arn, function, report_batch_item_failures=True, backoff_base_s=0)

    # When the batch is sent and then retried
    stream.poll_once()
    checkpoint_after_failure = stream.checkpoint(shard_id(stream_arn))
    stream.poll_once()

    # Then the retry starts at the lowest failed record and the first one is not sent again
    assert function.ids() == [["r1", "r2", "r3", "r4"], ["r2", "r3", "r4"]]
    assert checkpoint_after_failure is None
    assert stream.checkpoint(shard_id(stream_arn)) == sequence_numbers(function.batches[1])[-1]


@pytest.mark.parametrize("answer", [{"batchItemFailures": []}, {"batchItemFailures": None}, None, {}])
def test_stream_poller_treats_an_empty_failure_list_as_success(stream_arn: str, answer: Any) -> None:
    """An empty or null batchItemFailures means every record succeeded."""
    # Given a function that reports no failed item
    put("r1", "r2")
    function = ScriptedFunction(reply(answer))
    stream = poller(stream_arn, function, report_batch_item_failures=True)

    # When the stream is polled twice
    stream.poll_once()
    stream.poll_once()

    # Then the batch was sent once and is checkpointed
    assert function.ids() == [["r1", "r2"]]
    assert stream.checkpoint(shard_id(stream_arn)) == sequence_numbers(function.batches[0])[-1]


@pytest.mark.parametrize("identifier", ["", "not-a-sequence-number", None])
def test_stream_poller_fails_the_whole_batch_on_an_unknown_item_identifier(stream_arn: str, identifier: Any) -> None:
    """An itemIdentifier that is empty, null or not in the batch makes Lambda treat the batch as failed."""
    # Given a function whose failure names no record of the batch
    put("r1", "r2")
    function = ScriptedFunction(reply({"batchItemFailures": [{"itemIdentifier": identifier}]}))
    clock = FakeClock()
    stream = poller(stream_arn, function, clock, report_batch_item_failures=True)

    # When the stream is polled, then again after the backoff
    stream.poll_once()
    clock.now += 60
    stream.poll_once()

    # Then the whole batch is sent again
    assert function.ids() == [["r1", "r2"], ["r1", "r2"]]


def test_stream_poller_bisects_a_batch_on_function_error(stream_arn: str) -> None:
    """With BisectBatchOnFunctionError a batch that errors is split in two and each half retried."""
    # Given a function that fails its first call only
    put("r1", "r2", "r3", "r4")
    function = ScriptedFunction(UNHANDLED)
    stream = poller(stream_arn, function, bisect_on_error=True)

    # When the stream is polled three times
    counts = [stream.poll_once() for _ in range(3)]

    # Then the four records came back as two halves
    assert counts == [1, 1, 1]
    assert function.ids() == [["r1", "r2", "r3", "r4"], ["r1", "r2"], ["r3", "r4"]]


def test_stream_poller_backs_off_before_retrying(stream_arn: str) -> None:
    """A failed batch is retried after a pause, and the later records of the shard wait for it."""
    # Given a function that fails once, with a one second backoff
    put("r1")
    function = ScriptedFunction(UNHANDLED)
    clock = FakeClock()
    stream = poller(stream_arn, function, clock)
    stream.poll_once()
    put("r2")

    # When the stream is polled before and after the backoff
    too_early = stream.poll_once()
    clock.now += 1.0
    on_time = stream.poll_once()

    # Then nothing is sent early, and the retry carries the failed record alone
    assert (too_early, on_time) == (0, 1)
    assert function.ids() == [["r1"], ["r1"]]


def test_stream_poller_sends_exhausted_batches_to_the_destination_and_moves_on(stream_arn: str, dlq_url: str) -> None:
    """After MaximumRetryAttempts Lambda discards the batch, describes it to the on-failure destination
    (requestContext, responseContext, version, timestamp, DDBStreamBatchInfo) and goes on with the shard."""
    # Given a function that always fails and one retry allowed
    put("r1", "r2")
    function = ScriptedFunction(UNHANDLED, UNHANDLED)
    clock = FakeClock()
    stream = poller(stream_arn, function, clock, maximum_retry_attempts=1, on_failure_arn=DLQ_ARN)

    # When it is polled through its retry, and a new record arrives
    stream.poll_once()
    clock.now += 1.0
    stream.poll_once()
    put("r3")
    stream.poll_once()

    # Then the batch was tried twice, is described in the queue, and the next record was sent
    assert function.ids() == [["r1", "r2"], ["r1", "r2"], ["r3"]]
    [message] = dead_letters(dlq_url)
    sequences = sequence_numbers(function.batches[0])
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 2
    assert message["requestContext"]["functionArn"] == f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"
    assert message["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert message["version"] == "1.0"
    info = message["DDBStreamBatchInfo"]
    assert info["shardId"] == shard_id(stream_arn)
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (sequences[0], sequences[-1])
    assert info["batchSize"] == 2
    assert info["streamArn"] == stream_arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")


def test_stream_poller_sends_records_past_their_age_without_invoking(stream_arn: str, dlq_url: str) -> None:
    """Records older than MaximumRecordAgeInSeconds go to the destination and the function never sees them."""
    # Given a record that is an hour old by the poller's clock and a one minute limit
    put("r1")
    function = ScriptedFunction()
    clock = FakeClock()
    clock.now += 3600
    stream = poller(stream_arn, function, clock, maximum_record_age_s=60, on_failure_arn=DLQ_ARN)

    # When the stream is polled
    invocations = stream.poll_once()

    # Then nothing was invoked and the record is described as too old
    assert invocations == 0
    assert function.batches == []
    [message] = dead_letters(dlq_url)
    assert message["requestContext"]["condition"] == "RecordAgeExceeded"
    assert message["requestContext"]["approximateInvokeCount"] == 0
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1


def test_stream_poller_waits_for_the_batching_window(stream_arn: str) -> None:
    """Lambda gathers records for up to MaximumBatchingWindowInSeconds unless the batch is full first."""
    # Given a five second window and one record
    put("r1")
    function = ScriptedFunction()
    clock = FakeClock()
    stream = poller(stream_arn, function, clock, maximum_batching_window_s=5)

    # When the stream is polled inside the window, a second record comes, and the window closes
    inside = stream.poll_once()
    put("r2")
    clock.now += 5
    after = stream.poll_once()

    # Then both records went together once the window closed
    assert (inside, after) == (0, 1)
    assert function.ids() == [["r1", "r2"]]


def test_stream_poller_logs_one_hop_per_batch(stream_arn: str, caplog: pytest.LogCaptureFixture) -> None:
    # Given two records
    put("r1", "r2")
    stream = poller(stream_arn, ScriptedFunction())

    # When the batch is sent
    with caplog.at_level(logging.INFO, logger="localcloud.hops"):
        stream.poll_once()

    # Then one stream hop names both reservations
    hops = [record.getMessage() for record in caplog.records if record.name == "localcloud.hops"]
    assert hops == [f"[stream] reservation=r1,r2 batch invoked function={FUNCTION} records=2"]


def test_stream_poller_thread_delivers_and_stops_promptly(stream_arn: str) -> None:
    # Given a running poller
    function = ScriptedFunction()
    stream = StreamPoller(StreamMapping(FUNCTION, stream_arn), function, clients, poll_interval_s=0.01)
    stream.start()

    # When an item is written, and the poller is stopped
    put("r1")
    delivered = function.called.wait(timeout=5)
    started = time.monotonic()
    stream.stop(timeout=2)

    # Then the record was delivered and the thread ended within the timeout
    assert delivered
    assert function.ids() == [["r1"]]
    assert time.monotonic() - started < 2


def test_stream_poller_filters_with_the_stacks_two_patterns(stream_arn: str) -> None:
    """The stack's filters (as synthesized): a new PENDING booking, and a PENDING -> CONFIRMED change."""
    # Given the two filter patterns of the stream target's mapping
    booked = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}}}
    confirmed = {
        "eventName": ["MODIFY"],
        "dynamodb": {"OldImage": {"status": {"S": ["PENDING"]}}, "NewImage": {"status": {"S": ["CONFIRMED"]}}},
    }
    function = ScriptedFunction()
    stream = poller(stream_arn, function, filter_patterns=[booked, confirmed])

    # When a booking is made, touched while pending, confirmed, then touched again
    put("r1")
    put("r1")
    put("r1", status="CONFIRMED")
    put("r1", status="CONFIRMED")
    stream.poll_once()

    # Then only the booking and its confirmation reach the function
    [batch] = function.batches
    assert [(record["eventName"], record["dynamodb"]["NewImage"]["status"]["S"]) for record in batch] == [
        ("INSERT", "PENDING"),
        ("MODIFY", "CONFIRMED"),
    ]
