"""The email workflow's ASL, read as data: valid for asl-validator, and every path through it handled."""

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.shared import contract
from workflow.state_machine import ASL_FILE

TEST_INPUTS = ASL_FILE.parent / "test-inputs"
LAMBDA_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
CAUGHT_ERRORS = {"TemplateDataMissing", "ReservationNotFound", "InvalidEvent", "EmailRejected", "InvalidReservation"}
VALIDATOR_TIMEOUT_SECONDS = 60
# What the stack substitutes for the detail-type placeholders of the Choice (see workflow/state_machine.py).
DETAIL_TYPE_SUBSTITUTIONS = {
    "DetailTypeBooked": contract.DETAIL_TYPE_BOOKED,
    "DetailTypeConfirmed": contract.DETAIL_TYPE_CONFIRMED,
}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(ASL_FILE.read_text(encoding="utf-8"))


def _states_of_type(asl: dict[str, Any], state_type: str) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in asl["States"].items() if state["Type"] == state_type}


def _lambda_tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    tasks = _states_of_type(asl, "Task")
    return {name: task for name, task in tasks.items() if task["Resource"] == "arn:aws:states:::lambda:invoke"}


def _next_states(state: dict[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


def _route(asl: dict[str, Any], event: dict[str, Any]) -> str:
    """Where the first Choice sends ``event`` (only StringEquals on a top-level field is used by this ASL)."""
    choice = asl["States"][asl["StartAt"]]
    for rule in choice["Choices"]:
        field = rule["Variable"].removeprefix("$.")
        expected = rule["StringEquals"]
        for name, value in (
            ("DetailTypeBooked", contract.DETAIL_TYPE_BOOKED),
            ("DetailTypeConfirmed", contract.DETAIL_TYPE_CONFIRMED),
        ):
            expected = expected.replace(f"${{{name}}}", value)
        if event.get(field) == expected:
            return rule["Next"]
    return choice["Default"]


def test_asl_passes_asl_validator() -> None:
    # Given the asl-validator of node_modules, run on the pinned Node 22
    validator = shutil.which("asl-validator")
    assert validator is not None, "asl-validator not found: run bin/setup"

    # When it checks the ASL file
    result = subprocess.run(  # noqa: S603 - a fixed local tool on a file of this repository
        [validator, "--json-path", str(ASL_FILE)],
        capture_output=True,
        text=True,
        timeout=VALIDATOR_TIMEOUT_SECONDS,
        check=False,
    )

    # Then it reports the definition valid
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


def test_asl_lambda_tasks_retry_lambda_errors_and_throttling_with_backoff(asl: dict[str, Any]) -> None:
    # Given the two Lambda tasks
    tasks = _lambda_tasks(asl)

    # When their retriers are indexed by error
    retriers = {name: {e: r for r in task["Retry"] for e in r["ErrorEquals"]} for name, task in tasks.items()}

    # Then each retries the transient Lambda errors, EmailThrottled and a duplicate still in progress, with backoff
    assert set(tasks) == {"SendRestaurantEmail", "SendGuestEmail"}
    for by_error in retriers.values():
        for error in LAMBDA_ERRORS:
            assert by_error[error]["BackoffRate"] == 2
            assert by_error[error]["IntervalSeconds"] == 2
            assert by_error[error]["MaxAttempts"] == 6
            assert by_error[error]["JitterStrategy"] == "FULL"
            assert by_error[error]["MaxDelaySeconds"] > 0
        throttled = by_error["EmailThrottled"]
        assert (throttled["IntervalSeconds"], throttled["BackoffRate"], throttled["MaxAttempts"]) == (1, 2, 5)
        assert throttled["JitterStrategy"] == "FULL"
        in_progress = by_error["IdempotencyAlreadyInProgressError"]
        assert (in_progress["IntervalSeconds"], in_progress["BackoffRate"], in_progress["MaxAttempts"]) == (2, 2, 4)


def test_asl_lambda_tasks_invoke_with_the_whole_event_and_keep_their_input(asl: dict[str, Any]) -> None:
    # Given the two Lambda tasks
    tasks = _lambda_tasks(asl)

    # When their parameters and result handling are read
    shapes = {name: (t["Parameters"]["Payload.$"], t["ResultSelector"], t["ResultPath"]) for name, t in tasks.items()}

    # Then each passes the event, keeps only the payload and puts it beside the input
    assert shapes == {
        "SendRestaurantEmail": ("$", {"sent.$": "$.Payload"}, "$.email"),
        "SendGuestEmail": ("$", {"sent.$": "$.Payload"}, "$.email"),
    }
    assert tasks["SendRestaurantEmail"]["Parameters"]["FunctionName"] == "${RestaurantEmailFunctionArn}"
    assert tasks["SendGuestEmail"]["Parameters"]["FunctionName"] == "${GuestEmailFunctionArn}"


def test_asl_lambda_tasks_catch_named_errors_first_then_everything_to_record_failure(asl: dict[str, Any]) -> None:
    # Given the two Lambda tasks
    tasks = _lambda_tasks(asl)

    # When their catchers are read in order
    catchers = {
        name: [(set(c["ErrorEquals"]), c["ResultPath"], c["Next"]) for c in t["Catch"]] for name, t in tasks.items()
    }

    # Then the named errors come first, States.ALL last, both keeping the input under $.error
    for ordered in catchers.values():
        assert ordered == [
            (CAUGHT_ERRORS, "$.error", "HasReservationId"),
            ({"States.ALL"}, "$.error", "HasReservationId"),
        ]


def test_asl_every_catch_keeps_the_input_and_states_all_is_alone_and_last(asl: dict[str, Any]) -> None:
    # Given every state with Retry or Catch
    states = [s for s in asl["States"].values() if "Retry" in s or "Catch" in s]

    # When each array is checked
    for state in states:
        for field in ("Retry", "Catch"):
            entries = state.get(field, [])
            positions = [i for i, entry in enumerate(entries) if "States.ALL" in entry["ErrorEquals"]]

            # Then States.ALL, where present, is the only error of the last entry
            assert positions in ([], [len(entries) - 1])
            if positions:
                assert entries[-1]["ErrorEquals"] == ["States.ALL"]
        for catcher in state.get("Catch", []):
            assert "ResultPath" in catcher and catcher["ResultPath"] is not None


def test_asl_records_the_failure_on_the_reservation_without_creating_one(asl: dict[str, Any]) -> None:
    # Given the state that records a failed email
    record = asl["States"]["RecordEmailFailure"]

    # When its DynamoDB parameters are read
    parameters = record["Parameters"]
    failure = parameters["ExpressionAttributeValues"][":failure"]["M"]

    # Then it updates emailFailure only on an existing item, keeps the input and always ends in EmailFailed
    assert record["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert parameters["TableName"] == "${ReservationTableName}"
    assert parameters["Key"] == {contract.PARTITION_KEY: {"S.$": "$.detail.reservationId"}}
    assert parameters["UpdateExpression"] == "SET emailFailure = :failure"
    assert parameters["ConditionExpression"] == f"attribute_exists({contract.PARTITION_KEY})"
    assert failure == {
        "error": {"S.$": "$.error.Error"},
        "cause": {"S.$": "$.error.Cause"},
        "detailType": {"S.$": "$.detail-type"},
        "executionId": {"S.$": "$$.Execution.Id"},
    }
    assert record["ResultPath"] is None
    assert record["Next"] == "EmailFailed"
    assert [c["Next"] for c in record["Catch"]] == ["EmailFailed"]
    assert any("DynamoDB.ThrottlingException" in r["ErrorEquals"] for r in record["Retry"])


def test_asl_fail_states_say_why(asl: dict[str, Any]) -> None:
    # Given the Fail states
    fails = _states_of_type(asl, "Fail")

    # When their error fields are read
    email_failed = fails["EmailFailed"]
    unknown = fails["UnknownDetailType"]

    # Then the email failure carries the caught error and the unknown type a fixed one
    assert (email_failed["ErrorPath"], email_failed["CausePath"]) == ("$.error.Error", "$.error.Cause")
    assert unknown["Error"] == "UnknownDetailType"
    assert unknown["Cause"]


def test_asl_every_next_exists_and_every_state_is_reachable(asl: dict[str, Any]) -> None:
    # Given the graph of states
    states = asl["States"]

    # When it is walked from StartAt
    seen: set[str] = set()
    pending = [asl["StartAt"]]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        targets = list(_next_states(states[name]))
        assert set(targets) <= set(states), f"{name} points at a missing state: {set(targets) - set(states)}"
        pending.extend(targets)

    # Then every state was reached, and each one either moves on or ends
    assert seen == set(states)
    for name, state in states.items():
        assert state["Type"] in ("Fail", "Succeed", "Choice") or "Next" in state or state.get("End") is True, name


@pytest.mark.parametrize(
    ("input_file", "expected_state"),
    [
        ("restaurant-booked.json", "SendRestaurantEmail"),
        ("reservation-confirmed.json", "SendGuestEmail"),
        ("unknown-detail-type.json", "UnknownDetailType"),
    ],
)
def test_asl_routes_each_test_input_by_detail_type(asl: dict[str, Any], input_file: str, expected_state: str) -> None:
    # Given a stored EventBridge event
    event = json.loads((TEST_INPUTS / input_file).read_text(encoding="utf-8"))

    # When the first Choice routes it
    state = _route(asl, event)

    # Then it reaches the state for its detail-type
    assert state == expected_state


def test_asl_test_inputs_are_booking_events_of_the_contract() -> None:
    # Given every stored test input
    inputs = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in Path(TEST_INPUTS).glob("*.json")}

    # When their sources and ids are read
    sources = {event["source"] for event in inputs.values()}

    # Then they are events of the booking source, each naming a reservation
    assert sources == {contract.EVENT_SOURCE}
    assert all(event["detail"]["reservationId"] for event in inputs.values())
