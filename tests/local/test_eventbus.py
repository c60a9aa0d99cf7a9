"""Conformance of the local EventBridge fan-out to what EventBridge documents: patterns, target input,
retries and dead-letter queues. Rules, targets, state machines and queues are moto's, in-process."""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.events.models import Rule

from localcloud.eventbus import EventRouter, limit_moto_delivery
from localcloud.patterns import matches

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUS = "bookings"
RULE = "booked-to-emails"
PATTERN = {"source": ["restaurant.booking"], "detail-type": ["OnRestaurantBooked"]}
DLQ = "bus-failures"
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
DRAIN_TIMEOUT_S = 10


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, in_process_aws: None) -> None:
    """moto in this process, with its delivery limited as the local cloud limits it (undone after the test)."""
    monkeypatch.setattr(Rule, "send_to_targets", Rule.send_to_targets)
    limit_moto_delivery()


def clients(service_name: str) -> Any:
    return boto3.client(service_name, region_name=REGION)


class FlakyStepFunctions:
    """Step Functions that answers the first ``failures`` StartExecution calls with an error."""

    def __init__(self, failures: int, code: str = "ThrottlingException") -> None:
        self.failures = failures
        self.code = code
        self.calls = 0

    def start_execution(self, **arguments: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ClientError({"Error": {"Code": self.code, "Message": "Rate exceeded"}}, "StartExecution")
        return clients("stepfunctions").start_execution(**arguments)


@contextmanager
def router_with(stepfunctions: FlakyStepFunctions | None = None) -> Iterator[EventRouter]:
    def factory(service_name: str) -> Any:
        return stepfunctions if stepfunctions and service_name == "stepfunctions" else clients(service_name)

    router = EventRouter(factory, account=ACCOUNT, region=REGION, backoff_base_s=0.001, backoff_max_s=0.01)
    router.start()
    try:
        yield router
    finally:
        router.stop(timeout=5)


@pytest.fixture
def router(aws: None) -> Iterator[EventRouter]:
    with router_with() as running:
        yield running


@pytest.fixture
def state_machine(aws: None) -> str:
    stepfunctions = clients("stepfunctions")
    role = f"arn:aws:iam::{ACCOUNT}:role/emails"
    return stepfunctions.create_state_machine(name="BookingEmails", definition=PASS_MACHINE, roleArn=role)[
        "stateMachineArn"
    ]


@pytest.fixture
def dlq_url(aws: None) -> str:
    return clients("sqs").create_queue(QueueName=DLQ)["QueueUrl"]


def add_rule(target: dict[str, Any], pattern: dict[str, Any] | None = None) -> str:
    events = clients("events")
    if BUS not in [bus["Name"] for bus in events.list_event_buses()["EventBuses"]]:
        events.create_event_bus(Name=BUS)
    rule_arn = events.put_rule(Name=RULE, EventBusName=BUS, EventPattern=json.dumps(pattern or PATTERN))["RuleArn"]
    events.put_targets(Rule=RULE, EventBusName=BUS, Targets=[{"Id": "emails", **target}])
    return rule_arn


def put_booking(router: EventRouter, reservation_id: str = "r1", bus: str = BUS) -> tuple[str, int]:
    """Put one booking event through moto, hand it to the router as the edge server does, and wait."""
    entry = {
        "Source": "restaurant.booking",
        "DetailType": "OnRestaurantBooked",
        "Detail": json.dumps({"reservationId": reservation_id, "status": "PENDING", "partySize": 4}),
        "EventBusName": bus,
    }
    [accepted] = clients("events").put_events(Entries=[entry])["Entries"]
    queued = router.dispatch([entry], [accepted.get("EventId")])
    assert router.drain(timeout=DRAIN_TIMEOUT_S)
    return accepted["EventId"], queued


def execution_inputs(state_machine_arn: str) -> list[Any]:
    stepfunctions = clients("stepfunctions")
    executions = stepfunctions.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return [json.loads(stepfunctions.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]


def dead_letters(queue_url: str) -> list[dict[str, Any]]:
    response = clients("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return response.get("Messages", [])


def attributes_of(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}


BOOKING = {
    "version": "0",
    "id": "e1",
    "detail-type": "OnRestaurantBooked",
    "source": "restaurant.booking",
    "account": ACCOUNT,
    "time": "2030-01-01T18:00:00Z",
    "region": REGION,
    "resources": [],
    "detail": {
        "reservationId": "r1",
        "status": "PENDING",
        "partySize": 4,
        "dateTime": "2030-01-01T19:30:00+01:00",
        "guest": {"tier": "gold"},
        "tags": ["window", "quiet"],
    },
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param({"source": ["restaurant.booking"]}, True, id="exact string"),
        pytest.param({"source": ["restaurant.other"]}, False, id="exact string, other value"),
        pytest.param({"detail": {"partySize": [4]}}, True, id="exact number"),
        pytest.param({"detail": {"partySize": [5]}}, False, id="exact number, other value"),
        pytest.param({"detail": {"dateTime": [{"prefix": "2030-01"}]}}, True, id="prefix"),
        pytest.param({"detail": {"dateTime": [{"prefix": "2031-"}]}}, False, id="prefix, other start"),
        pytest.param({"detail": {"status": [{"anything-but": ["CONFIRMED"]}]}}, True, id="anything-but"),
        pytest.param({"detail": {"status": [{"anything-but": "PENDING"}]}}, False, id="anything-but the value"),
        pytest.param({"detail": {"partySize": [{"numeric": [">", 0, "<=", 8]}]}}, True, id="numeric range"),
        pytest.param({"detail": {"partySize": [{"numeric": [">=", 5]}]}}, False, id="numeric range, outside"),
        pytest.param({"detail": {"status": [{"exists": True}]}}, True, id="exists true"),
        pytest.param({"detail": {"confirmedAt": [{"exists": True}]}}, False, id="exists true, absent"),
        pytest.param({"detail": {"confirmedAt": [{"exists": False}]}}, True, id="exists false"),
        pytest.param({"detail-type": ["OnReservationConfirmed", "OnRestaurantBooked"]}, True, id="array is OR"),
        pytest.param({"detail": {"tags": ["quiet"]}}, True, id="event array holds the value"),
        pytest.param({"detail": {"guest": {"tier": ["gold"]}}}, True, id="nested detail field"),
        pytest.param({"detail": {"guest": {"tier": ["silver"]}}}, False, id="nested detail field, other value"),
        pytest.param({"source": ["restaurant.booking"], "detail": {"status": ["CONFIRMED"]}}, False, id="all keys"),
    ],
)
def test_event_pattern_operators_match_as_documented(pattern: dict[str, Any], expected: bool) -> None:
    # Given a booking event and a pattern using one operator

    # When the router's matcher compares them
    result = matches(pattern, BOOKING)

    # Then the answer is EventBridge's
    assert result is expected


def test_event_router_starts_an_execution_with_the_event_as_input(router: EventRouter, state_machine: str) -> None:
    # Given a rule on the custom bus that targets the state machine
    add_rule({"Arn": state_machine})

    # When a matching event is put on the bus
    event_id, queued = put_booking(router)

    # Then one execution got the whole event, in EventBridge's shape, with the detail as an object
    assert queued == 1
    [execution_input] = execution_inputs(state_machine)
    assert execution_input == {
        "version": "0",
        "id": event_id,
        "detail-type": "OnRestaurantBooked",
        "source": "restaurant.booking",
        "account": ACCOUNT,
        "time": execution_input["time"],
        "region": REGION,
        "resources": [],
        "detail": {"reservationId": "r1", "status": "PENDING", "partySize": 4},
    }
    assert execution_input["time"].endswith("Z")


def test_event_router_finds_the_bus_by_its_arn(router: EventRouter, state_machine: str) -> None:
    # Given a rule on the custom bus
    add_rule({"Arn": state_machine})

    # When the event names its bus by ARN
    _, queued = put_booking(router, bus=f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}")

    # Then it is delivered
    assert queued == 1
    assert [body["detail"]["reservationId"] for body in execution_inputs(state_machine)] == ["r1"]


def test_event_router_sends_the_part_at_the_input_path(router: EventRouter, state_machine: str) -> None:
    # Given a target whose InputPath is the detail
    add_rule({"Arn": state_machine, "InputPath": "$.detail"})

    # When a matching event is put
    put_booking(router)

    # Then the execution got the detail alone
    assert execution_inputs(state_machine) == [{"reservationId": "r1", "status": "PENDING", "partySize": 4}]


def test_event_router_fills_the_input_transformer_template(router: EventRouter, state_machine: str) -> None:
    # Given a target with an input transformer that uses values inside and outside JSON strings
    template = (
        '{"reservation": <id>, "size": <size>, "text": "table for <size> (<id>)", "rule": "<aws.events.rule-name>"}'
    )
    paths = {"id": "$.detail.reservationId", "size": "$.detail.partySize"}
    add_rule({"Arn": state_machine, "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}})

    # When a matching event is put
    put_booking(router)

    # Then the template was filled as EventBridge fills it
    assert execution_inputs(state_machine) == [
        {"reservation": "r1", "size": 4, "text": "table for 4 (r1)", "rule": RULE}
    ]


def test_event_router_sends_a_constant_input(router: EventRouter, state_machine: str) -> None:
    # Given a target with a constant Input
    add_rule({"Arn": state_machine, "Input": '{"fixed": true}'})

    # When a matching event is put
    put_booking(router)

    # Then the execution got the constant
    assert execution_inputs(state_machine) == [{"fixed": True}]


def test_event_router_skips_a_disabled_rule(router: EventRouter, state_machine: str) -> None:
    # Given a rule that is disabled
    add_rule({"Arn": state_machine})
    clients("events").disable_rule(Name=RULE, EventBusName=BUS)

    # When a matching event is put
    _, queued = put_booking(router)

    # Then nothing is delivered
    assert queued == 0
    assert execution_inputs(state_machine) == []


def test_event_router_skips_an_event_that_matches_no_rule(router: EventRouter, state_machine: str) -> None:
    # Given a rule for confirmations only
    add_rule({"Arn": state_machine}, {"detail-type": ["OnReservationConfirmed"]})

    # When a booking event is put
    _, queued = put_booking(router)

    # Then nothing is delivered
    assert queued == 0
    assert execution_inputs(state_machine) == []


def test_event_router_sends_a_missing_target_to_the_dlq_without_retrying(router: EventRouter, dlq_url: str) -> None:
    """A target that no longer exists fails every retry, so EventBridge sends the event straight to the DLQ."""
    # Given a rule whose state machine does not exist, with a dead-letter queue
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Gone"
    rule_arn = add_rule({"Arn": missing, "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DLQ}"}})

    # When a matching event is put
    event_id, _ = put_booking(router)

    # Then the event is in the queue, with the attributes EventBridge documents
    [message] = dead_letters(dlq_url)
    assert json.loads(message["Body"])["id"] == event_id
    attributes = attributes_of(message)
    assert attributes.pop("ERROR_MESSAGE")
    assert attributes == {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": missing,
        "ERROR_CODE": "NO_RESOURCE",
        "RETRY_ATTEMPTS": "0",
    }


def test_event_router_retries_then_sends_to_the_dlq(aws: None, state_machine: str, dlq_url: str) -> None:
    """A retriable failure is retried MaximumRetryAttempts times, then the event goes to the DLQ."""
    # Given a throttled Step Functions and a target allowing two retries
    stepfunctions = FlakyStepFunctions(failures=100)
    rule_arn = add_rule(
        {
            "Arn": state_machine,
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DLQ}"},
        }
    )

    # When a matching event is put
    with router_with(stepfunctions) as router:
        event_id, _ = put_booking(router)

    # Then StartExecution was tried three times and the event is in the queue, retries exhausted
    assert stepfunctions.calls == 3
    [message] = dead_letters(dlq_url)
    assert json.loads(message["Body"])["id"] == event_id
    attributes = attributes_of(message)
    assert attributes["RULE_ARN"] == rule_arn
    assert attributes["TARGET_ARN"] == state_machine
    assert attributes["ERROR_CODE"] == "THROTTLING"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2"


def test_event_router_delivers_after_a_passing_failure(aws: None, state_machine: str, dlq_url: str) -> None:
    # Given Step Functions throttled once
    stepfunctions = FlakyStepFunctions(failures=1)
    add_rule({"Arn": state_machine, "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{DLQ}"}})

    # When a matching event is put
    with router_with(stepfunctions) as router:
        put_booking(router)

    # Then the retry started the execution and nothing went to the queue
    assert stepfunctions.calls == 2
    assert [body["detail"]["reservationId"] for body in execution_inputs(state_machine)] == ["r1"]
    assert dead_letters(dlq_url) == []


def test_event_router_logs_one_hop_per_delivery(
    router: EventRouter, state_machine: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a rule that targets the state machine
    add_rule({"Arn": state_machine})

    # When a matching event is delivered
    with caplog.at_level(logging.INFO, logger="localcloud.hops"):
        put_booking(router)

    # Then one bus hop names the reservation, the detail-type, the rule and the execution
    [execution] = clients("stepfunctions").list_executions(stateMachineArn=state_machine)["executions"]
    hops = [record.getMessage() for record in caplog.records if record.name == "localcloud.hops"]
    assert hops == [
        f"[bus] reservation=r1 execution started detail_type=OnRestaurantBooked rule={RULE} "
        f"execution={execution['executionArn']}"
    ]


def test_event_router_logs_loudly_when_an_event_is_lost(router: EventRouter, caplog: pytest.LogCaptureFixture) -> None:
    # Given a missing state machine and no dead-letter queue
    add_rule({"Arn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:Gone"})

    # When a matching event is put
    with caplog.at_level(logging.ERROR, logger="localcloud.eventbus"):
        put_booking(router)

    # Then the loss is logged as an error
    assert [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR] == [
        "EVENT LOST: delivery gave up and the target has no dead-letter queue"
    ]


def test_limit_moto_delivery_lets_moto_feed_its_own_targets_beside_a_state_machine(
    router: EventRouter, state_machine: str
) -> None:
    # Given a rule with both a queue, which moto delivers to, and a state machine, which it cannot
    queue_url = clients("sqs").create_queue(QueueName="audit")["QueueUrl"]
    add_rule({"Arn": state_machine})
    clients("events").put_targets(
        Rule=RULE, EventBusName=BUS, Targets=[{"Id": "audit", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:audit"}]
    )

    # When a matching event is put through moto
    event_id, queued = put_booking(router)

    # Then moto accepted the call and fed the queue, and the router alone started the execution
    [message] = clients("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["id"] == event_id
    assert queued == 1
    assert [body["id"] for body in execution_inputs(state_machine)] == [event_id]


def test_limit_moto_delivery_skips_disabled_rules_in_moto(router: EventRouter) -> None:
    # Given a disabled rule whose target is a queue
    queue_url = clients("sqs").create_queue(QueueName="audit")["QueueUrl"]
    add_rule({"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:audit"})
    clients("events").disable_rule(Name=RULE, EventBusName=BUS)

    # When a matching event is put through moto
    put_booking(router)

    # Then moto delivered nothing
    assert clients("sqs").receive_message(QueueUrl=queue_url).get("Messages", []) == []
