"""End to end on the local cloud: book over HTTP, follow the emailed link, and read what Step Functions did."""

import email
import email.policy
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from email.message import EmailMessage
from typing import Any

import pytest
from conftest import RunningCloud, book, executions_for, http, wait_for

EMAIL_TIMEOUT_S = 60.0
EXECUTION_TIMEOUT_S = 90.0
RESTAURANT_EMAIL = "bookings@restaurant.example.com"  # cdk.json context: restaurantEmail


def emails_for(cloud: RunningCloud, reservation_id: str, recipient: str) -> list[EmailMessage]:
    """The .eml files in the outbox sent to ``recipient`` about one reservation."""
    found = []
    for path in sorted(cloud.outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(preferencelist=("plain",))
        if recipient in str(message["To"]) and text is not None and reservation_id in text.get_content():
            found.append(message)
    return found


def finished_executions(cloud: RunningCloud, reservation_id: str, count: int) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        executions = executions_for(cloud, reservation_id)
        done = len(executions) == count and all(item["status"] != "RUNNING" for item in executions)
        return executions if done else None

    return wait_for(probe, EXECUTION_TIMEOUT_S, f"{count} finished execution(s) for {reservation_id}", interval=0.25)


def history(cloud: RunningCloud, execution_arn: str) -> list[dict[str, Any]]:
    sfn = cloud.client("stepfunctions")
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def set_faults(cloud: RunningCloud, faults: dict[str, bool | int]) -> None:
    url = cloud.endpoint + "/_localcloud/ses/faults"
    status, text = http("POST", url, json.dumps(faults).encode(), "application/json")
    assert status == 200, text


def test_local_cloud_health_names_every_endpoint(local_cloud: RunningCloud) -> None:
    # Given the local cloud started from cdk.out (session fixture)

    # When its health is read (by the fixture)
    health = local_cloud.health

    # Then it is ready and names the API, the AWS endpoint, the outbox, the state machine and the tables
    assert health["ready"] is True
    assert health["apiUrl"] == health["awsEndpoint"] + "/prod/"
    assert health["awsEndpoint"].startswith("http://127.0.0.1:")
    assert health["outbox"] == str(local_cloud.outbox)
    assert health["stateMachines"]["BookingEmailsStateMachine0E1EA5F0"].startswith("arn:aws:states:us-east-1:")
    assert any(logical.startswith("TablesReservations") for logical in health["tables"])
    assert health["outputs"]["ApiUrl"] == health["apiUrl"]
    skipped_types = {item["type"] for item in health["skipped"]}
    assert "AWS::Lambda::Permission" in skipped_types


def test_local_cloud_booking_to_confirmation_sends_both_emails(local_cloud: RunningCloud) -> None:
    # Given a booking made over HTTP
    reservation_id = book(local_cloud, "ada@guest.example.org")

    # When the restaurant's email arrives and its confirmation link is followed (GET the page, POST its form)
    (restaurant_email,) = wait_for(
        lambda: emails_for(local_cloud, reservation_id, RESTAURANT_EMAIL), EMAIL_TIMEOUT_S, "the restaurant's email"
    )
    text = restaurant_email.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+/prod/confirmReservation/\S+", text).group(0)
    page_status, page = http("GET", link)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]
    form = urllib.parse.urlencode({"token": token}).encode()
    confirm_status, confirmed = http("POST", link.split("?", 1)[0], form, "application/x-www-form-urlencoded")
    (guest_email,) = wait_for(
        lambda: emails_for(local_cloud, reservation_id, "ada@guest.example.org"), EMAIL_TIMEOUT_S, "the guest's email"
    )

    # Then the link pointed at the local API, the page had the form, the guest was told,
    assert link.startswith(local_cloud.api_url + f"confirmReservation/{reservation_id}?token=")
    assert page_status == 200 and "<form" in page and 'method="post"' in page.lower()
    assert confirm_status == 200 and "Reservation confirmed" in confirmed
    assert "Ada" in guest_email.get_body(preferencelist=("plain",)).get_content()
    # and both executions succeeded, each with one Lambda task that succeeded first time
    booked, confirmation = finished_executions(local_cloud, reservation_id, 2)
    assert [booked["status"], confirmation["status"]] == ["SUCCEEDED", "SUCCEEDED"]
    for execution in (booked, confirmation):
        types = [event["type"] for event in history(local_cloud, execution["executionArn"])]
        assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
        assert types.count("TaskScheduled") == 1 and types.count("TaskSucceeded") == 1
        assert "TaskFailed" not in types
    item = local_cloud.client("dynamodb").get_item(
        TableName=local_cloud.table_name("TablesReservations"), Key={"reservationId": {"S": reservation_id}}
    )["Item"]
    assert item["status"]["S"] == "CONFIRMED"


def test_local_cloud_throttled_email_is_retried_until_sent(local_cloud: RunningCloud) -> None:
    # Given SES throttling enough sends to fail two task attempts
    set_faults(local_cloud, {"clear": True, "throttle": 2})

    # When a booking is made
    reservation_id = book(local_cloud, "grace@guest.example.org")

    # Then the restaurant's email still arrives, after two throttled attempts the state machine retried
    wait_for(lambda: emails_for(local_cloud, reservation_id, RESTAURANT_EMAIL), EMAIL_TIMEOUT_S, "the email")
    (execution,) = finished_executions(local_cloud, reservation_id, 1)
    assert execution["status"] == "SUCCEEDED"
    events = history(local_cloud, execution["executionArn"])
    failures = [event["taskFailedEventDetails"]["error"] for event in events if event["type"] == "TaskFailed"]
    assert failures == ["EmailThrottled", "EmailThrottled"]
    types = [event["type"] for event in events]
    assert types.count("TaskScheduled") == 3
    assert types.index("TaskSucceeded") > max(index for index, kind in enumerate(types) if kind == "TaskFailed")


def test_local_cloud_rejected_email_fails_the_execution_and_records_it(local_cloud: RunningCloud) -> None:
    # Given SES rejecting the next send
    set_faults(local_cloud, {"clear": True, "reject": 1})

    # When a booking is made
    reservation_id = book(local_cloud, "hedy@guest.example.org")

    # Then the execution fails and the reservation records why
    (execution,) = finished_executions(local_cloud, reservation_id, 1)
    assert execution["status"] == "FAILED"
    failures = [
        event["taskFailedEventDetails"]["error"]
        for event in history(local_cloud, execution["executionArn"])
        if event["type"] == "TaskFailed"
    ]
    assert failures == ["EmailRejected"]
    item = local_cloud.client("dynamodb").get_item(
        TableName=local_cloud.table_name("TablesReservations"), Key={"reservationId": {"S": reservation_id}}
    )["Item"]
    failure = item["emailFailure"]["M"]
    assert failure["error"]["S"] == "EmailRejected"
    assert failure["detailType"]["S"] == "OnRestaurantBooked"
    assert emails_for(local_cloud, reservation_id, RESTAURANT_EMAIL) == []


def test_local_cloud_links_in_emails_point_at_the_local_api(local_cloud: RunningCloud) -> None:
    # Given the restaurant email function, whose API_URL the template computes from the REST API and its stage
    function = local_cloud.health["functions"]["EmailsRestaurantEmailFunctionC8D6220E"]

    # When its configuration is read through the Lambda API
    configuration = local_cloud.client("lambda").get_function_configuration(FunctionName=function)

    # Then the execute-api URL was rewritten to the local API
    assert configuration["Environment"]["Variables"]["API_URL"] == local_cloud.api_url


def test_local_cloud_lambda_invoke_reports_a_named_error_as_aws_does(local_cloud: RunningCloud) -> None:
    # Given the guest email function and an event that is not a booking event
    function = local_cloud.health["functions"]["EmailsGuestEmailFunction68B621F3"]

    # When it is invoked through the Lambda API, synchronously and as an event
    answer = local_cloud.client("lambda").invoke(FunctionName=function, Payload=b'{"detail": {}}')
    queued = local_cloud.client("lambda").invoke(FunctionName=function, Payload=b"{}", InvocationType="Event")

    # Then the error comes back as Unhandled with its name, and the event invocation is accepted
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "InvalidEvent"
    assert queued["StatusCode"] == 202


@pytest.mark.parametrize(("method", "path"), [("GET", "nowhere"), ("DELETE", "bookRestaurant")])
def test_local_cloud_api_rejects_undefined_routes_like_api_gateway(
    local_cloud: RunningCloud, method: str, path: str
) -> None:
    # Given a route the template does not define

    # When it is requested
    status, text = http(method, local_cloud.api_url + path)

    # Then API Gateway's answer comes back
    assert status == 403
    assert json.loads(text) == {"message": "Missing Authentication Token"}


def test_local_cloud_parks_a_bad_item_and_still_emails_the_booking_behind_it(local_cloud: RunningCloud) -> None:
    # Given an item written around the API that breaks the booking rules (a party of 0)
    bad_id = str(uuid.uuid4())
    local_cloud.client("dynamodb").put_item(
        TableName=local_cloud.table_name("TablesReservations"),
        Item={
            "reservationId": {"S": bad_id},
            "status": {"S": "PENDING"},
            "firstName": {"S": "Poison"},
            "lastName": {"S": "Pill"},
            "email": {"S": "poison@guest.example.org"},
            "dateTime": {"S": "2031-05-05T20:00:00Z"},
            "partySize": {"N": "0"},
            "createdAt": {"S": "2026-12-04T16:00:00+00:00"},
        },
    )

    # When a real booking follows it on the stream
    reservation_id = book(local_cloud, "grace.after@guest.example.org")

    # Then the booking's email still goes out, and the bad item is parked in the failed-records queue, by id
    wait_for(lambda: emails_for(local_cloud, reservation_id, RESTAURANT_EMAIL), EMAIL_TIMEOUT_S, "the email")
    sqs = local_cloud.client("sqs")
    (queue_url,) = [url for url in sqs.list_queues()["QueueUrls"] if "StreamTargetFailedRecords" in url]

    def parked() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("keys", {}).get("reservationId") == bad_id:
                return body
        return None

    body = wait_for(parked, EMAIL_TIMEOUT_S, "the parked record")
    assert body["invalidAttributes"] == ["partySize"]
    assert "poison@guest.example.org" not in json.dumps(body)
    assert executions_for(local_cloud, bad_id) == []
