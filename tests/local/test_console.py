"""The local cloud's console: pages, JSON and terminal views over a real moto server with real execution histories.

One moto server runs for the module on 127.0.0.1, with moto's own ASL interpreter switched on so that
executions have true histories. The state machine routes on the event's detail-type, records it with the
DynamoDB integration (retried, then caught when the table is missing) and fails on unknown events.
"""

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from io import StringIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

from localcloud.console import create_app
from localcloud.console.cli import print_executions, print_history
from localcloud.console.data import CloudReader
from localcloud.console.graph import layers, render_svg

MOUNT = "/_localcloud/console"
HOSTILE = "<img src=x onerror=alert(1)>"
HOSTILE_ID = "7d3f7c1e-0000-4000-8000-00000000bad1"
PLAIN_ID = "7d3f7c1e-0000-4000-8000-0000000000a1"
# A region of its own: moto's backends live in this process and other local-cloud tests may share them.
REGION = "ap-southeast-2"
TIMEOUT_SECONDS = 15

ASL: dict[str, Any] = {
    "Comment": "Routes a booking event, records it, fails on anything else.",
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.detail-type", "StringEquals": "OnRestaurantBooked", "Next": "Record"}],
            "Default": "UnknownEvent",
        },
        "Record": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName.$": "$.table",
                "Key": {"reservationId": {"S.$": "$.detail.reservationId"}},
                "UpdateExpression": "SET routed = :yes",
                "ExpressionAttributeValues": {":yes": {"BOOL": True}},
            },
            "ResultPath": "$.recorded",
            "Retry": [{"ErrorEquals": ["DynamoDB.ResourceNotFoundException"], "MaxAttempts": 1, "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordFailed"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "RecordFailed": {"Type": "Fail", "Error": "RecordFailed", "Cause": f"could not record {HOSTILE}"},
        "UnknownEvent": {"Type": "Fail", "Error": "UnknownEvent"},
    },
}


@dataclass(frozen=True)
class Cloud:
    """What the module's fixture set up: the endpoint, the outbox, and the executions by name."""

    endpoint: str
    outbox: Path
    table: str
    executions: dict[str, str]  # name -> ARN


def _event(reservation_id: str, table: str, detail_type: str = "OnRestaurantBooked") -> str:
    detail = {"reservationId": reservation_id, "status": "PENDING", "partySize": 4}
    return json.dumps({"detail-type": detail_type, "source": "restaurant.booking", "table": table, "detail": detail})


def _set_moto_config(endpoint: str, config: dict[str, Any]) -> dict[str, Any]:
    url = f"{endpoint}/moto-api/config"
    request = urllib.request.Request(url, data=json.dumps(config).encode(), method="POST")  # noqa: S310 - our own server
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - on 127.0.0.1, http only
        return json.loads(response.read())


def _wait_until_stopped(sfn: Any, arn: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {arn} still running after {TIMEOUT_SECONDS}s")
        time.sleep(0.05)


def _write_email(outbox: Path) -> None:
    message = EmailMessage()
    message["From"] = "bookings@example.com"
    message["To"] = "restaurant@example.com"
    message["Subject"] = f"New booking from {HOSTILE}"
    message["Date"] = "Fri, 04 Dec 2026 15:00:00 +0000"
    link = f"http://127.0.0.1:9/prod/confirmReservation/{HOSTILE_ID}?token=abc"
    message.set_content(f"Confirm booking {HOSTILE_ID}: {link}")
    message.add_alternative(
        f"<html><head><title>booking</title></head><body><p>Guest &lt;img src=x onerror=alert(1)&gt;</p>"
        f'<p><a href="{link}">Confirm booking {HOSTILE_ID}</a></p></body></html>',
        subtype="html",
    )
    (outbox / "20261204T150000-restaurant.eml").write_bytes(bytes(message))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        # moto's ASL interpreter sends service integrations to localhost:$MOTO_PORT: our server.
        patch.setenv("MOTO_PORT", str(port))
        patch.setenv("AWS_DEFAULT_REGION", REGION)  # the console reads its region from the environment
        before = _set_moto_config(endpoint, {})
        _set_moto_config(endpoint, {"stepfunctions": {"execute_state_machine": True}})
        try:
            yield _populate(endpoint, tmp_path_factory.mktemp("outbox"))
        finally:
            _remove_everything_in_region(endpoint)
            _set_moto_config(endpoint, {"stepfunctions": before.get("stepfunctions", {"execute_state_machine": False})})
            server.stop()


def _clients(endpoint: str) -> dict[str, Any]:
    return {"endpoint_url": endpoint, "region_name": REGION, "aws_access_key_id": "t", "aws_secret_access_key": "t"}


def _remove_everything_in_region(endpoint: str) -> None:
    sfn = boto3.client("stepfunctions", **_clients(endpoint))
    dynamodb = boto3.client("dynamodb", **_clients(endpoint))
    for machine in sfn.list_state_machines()["stateMachines"]:
        sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
    for table in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=table)


def _populate(endpoint: str, outbox: Path) -> Cloud:
    dynamodb = boto3.client("dynamodb", **_clients(endpoint))
    sfn = boto3.client("stepfunctions", **_clients(endpoint))
    table = "ConsoleTest-Reservations"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "reservationId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "reservationId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.create_table(
        TableName="ConsoleTest-Idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for reservation_id, first_name, created in [
        (HOSTILE_ID, HOSTILE, "2026-12-04T15:00:00Z"),
        (PLAIN_ID, "Ada", "2026-12-04T14:00:00Z"),
    ]:
        item = {
            "reservationId": {"S": reservation_id},
            "status": {"S": "PENDING"},
            "firstName": {"S": first_name},
            "lastName": {"S": "Guest"},
            "dateTime": {"S": "2030-01-01T19:30:00+01:00"},
            "partySize": {"N": "4"},
            "createdAt": {"S": created},
        }
        dynamodb.put_item(TableName=table, Item=item)
    dynamodb.put_item(TableName="ConsoleTest-Idempotency", Item={"id": {"S": "not-a-reservation"}})
    machine = sfn.create_state_machine(
        name="ConsoleTestBookingEmails", definition=json.dumps(ASL), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    executions = {}
    for name, execution_input in [
        ("booked-recorded", _event(HOSTILE_ID, table)),
        ("booked-table-missing", _event(PLAIN_ID, "NoSuchTable")),
        ("unknown-event", _event(PLAIN_ID, table, detail_type="Unexpected")),
    ]:
        arn = sfn.start_execution(stateMachineArn=machine, name=name, input=execution_input)["executionArn"]
        _wait_until_stopped(sfn, arn)
        executions[name] = arn
    _write_email(outbox)
    return Cloud(endpoint=endpoint, outbox=outbox, table=table, executions=executions)


@pytest.fixture(scope="module")
def client(cloud: Cloud) -> Client:
    console = create_app(cloud.endpoint, cloud.outbox, api_url="http://127.0.0.1:9/prod/")
    return Client(DispatcherMiddleware(Response("not the console", status=404), {MOUNT: console}))


def _page(client: Client, path: str) -> str:
    response = client.get(MOUNT + path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _state_outcome(page: str, state: str) -> str:
    marker = f'data-state="{state}" data-outcome="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_executions_api_lists_every_execution_newest_first_with_duration(client: Client, cloud: Cloud) -> None:
    # Given three executions started one after another (by the module fixture)

    # When the executions are read as JSON
    executions = client.get(f"{MOUNT}/api/executions").get_json()["executions"]

    # Then they are newest first, with their state machine, status and a duration from start to stop
    ours = [execution for execution in executions if execution["stateMachine"] == "ConsoleTestBookingEmails"]
    assert [execution["name"] for execution in ours] == ["unknown-event", "booked-table-missing", "booked-recorded"]
    assert [execution["status"] for execution in ours] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert all(execution["durationMs"] is not None and execution["durationMs"] >= 0 for execution in ours)
    assert ours[1]["durationMs"] >= 1000  # its retry waited IntervalSeconds=1


def test_executions_api_filters_by_status(client: Client) -> None:
    # Given one succeeded and two failed executions

    # When only the succeeded ones are asked for
    executions = client.get(f"{MOUNT}/api/executions?status=SUCCEEDED").get_json()["executions"]

    # Then only the succeeded one comes back
    assert [execution["name"] for execution in executions] == ["booked-recorded"]


def test_executions_page_links_under_its_mount_point_with_a_strict_policy(client: Client, cloud: Cloud) -> None:
    # Given the console mounted under the local cloud's prefix

    # When the executions page is loaded
    response = client.get(f"{MOUNT}/executions")

    # Then its script, style, links and poll URL are under the prefix, and it forbids inline script
    page = response.get_data(as_text=True)
    assert f'<script src="{MOUNT}/static/console.js" defer></script>' in page
    assert f'href="{MOUNT}/static/console.css"' in page
    assert f'data-poll="{MOUNT}/api/executions"' in page
    assert f'href="{MOUNT}/execution?arn=arn%3Aaws%3Astates%3A{REGION}%3A' in page
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "default-src 'self'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page


def test_execution_page_colours_each_state_by_outcome_when_a_catch_handled_the_failure(
    client: Client, cloud: Cloud
) -> None:
    # Given an execution whose Task failed twice on a missing table and whose Catch led to a Fail state
    arn = cloud.executions["booked-table-missing"]

    # When its page is loaded
    page = _page(client, f"/execution?arn={arn}")

    # Then the graph draws every state, coloured by what happened to it
    outcomes = {state: _state_outcome(page, state) for state in ASL["States"]}
    assert outcomes == {
        "Route": "succeeded",
        "Record": "caught",
        "RecordFailed": "failed",
        "Done": "not-reached",
        "UnknownEvent": "not-reached",
    }
    assert 'fill="#ffe0b2"' in page  # the caught colour
    assert "Catch States.ALL" in page
    assert ">Default<" in page


def test_execution_page_shows_the_retry_and_the_failure_before_it(client: Client, cloud: Cloud) -> None:
    # Given an execution whose Task was retried once
    arn = cloud.executions["booked-table-missing"]

    # When its page is loaded
    page = _page(client, f"/execution?arn={arn}")

    # Then the history shows the second attempt, the first failure marked as retried, and both errors
    history = page[page.index('<table id="history">') :]
    assert history.count("<td>TaskScheduled</td>") == 2
    assert '<span class="retry">attempt 2</span>' in history
    assert history.count('<span class="retry">retried</span>') == 1
    assert history.count('<div class="error"><bdi>DynamoDB.ResourceNotFoundException</bdi></div>') == 2
    assert '<div class="error"><bdi>RecordFailed</bdi></div>' in history


def test_execution_api_finds_an_execution_by_name_and_gives_outcomes_and_history(client: Client) -> None:
    # Given an execution that went down the Choice's Default branch

    # When it is read as JSON by its name rather than its ARN
    body = client.get(f"{MOUNT}/api/execution?name=unknown-event").get_json()

    # Then it reports the branch taken and the elapsed time of every event since the start
    assert body["execution"]["status"] == "FAILED"
    assert body["outcomes"] == {"Route": "succeeded", "UnknownEvent": "failed"}
    assert [row["type"] for row in body["history"]] == [
        "ExecutionStarted",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "FailStateEntered",
        "ExecutionFailed",
    ]
    assert body["history"][0]["elapsedMs"] == 0
    assert body["history"][-1]["error"] == "UnknownEvent"


def test_execution_page_shows_a_running_state_and_asks_the_script_to_follow_it(client: Client, cloud: Cloud) -> None:
    # Given an execution waiting in a Wait state
    sfn = boto3.client("stepfunctions", **_clients(cloud.endpoint))
    waiting = {
        "StartAt": "Prepare",
        "States": {"Prepare": {"Type": "Pass", "Next": "Hold"}, "Hold": {"Type": "Wait", "Seconds": 300, "End": True}},
    }
    machine = sfn.create_state_machine(
        name="ConsoleTestWaiting", definition=json.dumps(waiting), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="waiting", input="{}")["executionArn"]
    try:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while "Hold" not in client.get(f"{MOUNT}/api/execution?arn={arn}").get_json()["outcomes"]:
            assert time.monotonic() < deadline, "the execution never reached its Wait state"
            time.sleep(0.05)

        # When its page and the executions list are loaded
        page = _page(client, f"/execution?arn={arn}")
        listed = client.get(f"{MOUNT}/api/executions?status=RUNNING").get_json()["executions"]
    finally:
        sfn.stop_execution(executionArn=arn)

    # Then the Wait state is running, the page tells the script to poll it, and it has no stop time yet
    assert _state_outcome(page, "Prepare") == "succeeded"
    assert _state_outcome(page, "Hold") == "running"
    assert 'data-status="RUNNING"' in page
    assert f'data-poll="{MOUNT}/api/execution?arn=' in page
    assert [(execution["name"], execution["stop"], execution["durationMs"]) for execution in listed] == [
        ("waiting", None, None)
    ]


def test_execution_api_marks_the_open_state_failed_once_the_execution_is_stopped(client: Client, cloud: Cloud) -> None:
    # Given an execution stopped while it waits in its Wait state
    sfn = boto3.client("stepfunctions", **_clients(cloud.endpoint))
    waiting = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 300, "End": True}}}
    machine = sfn.create_state_machine(
        name="ConsoleTestStopped", definition=json.dumps(waiting), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name="stopped", input="{}")["executionArn"]
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while "Hold" not in client.get(f"{MOUNT}/api/execution?arn={arn}").get_json()["outcomes"]:
        assert time.monotonic() < deadline, "the execution never reached its Wait state"
        time.sleep(0.05)
    sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")

    # When it is read once it has stopped
    while (body := client.get(f"{MOUNT}/api/execution?arn={arn}").get_json())["execution"]["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution never stopped"
        time.sleep(0.05)

    # Then it is aborted, and a state it had entered is not shown as still running
    assert body["execution"]["status"] == "ABORTED"
    assert [row["type"] for row in body["history"]] == ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
    assert body["outcomes"] == {"Hold": "failed"}


def test_graph_draws_loops_unreachable_states_and_hostile_names_as_text() -> None:
    # Given a definition with a loop back, a state nothing reaches, and a state named like an HTML tag
    definition = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": HOSTILE}],
                "Default": "End",
            },
            HOSTILE: {"Type": "Pass", "Next": "Check"},
            "End": {"Type": "Succeed"},
            "Orphan": {"Type": "Pass", "End": True},
        },
    }

    # When it is laid out and drawn with one state running
    rows = layers(definition)
    svg = render_svg(definition, {"Check": "succeeded", HOSTILE: "running"})

    # Then the start is alone on top, the orphan is on a row of its own, and the hostile name is text
    assert rows == [["Check"], [HOSTILE, "End"], ["Orphan"]]
    assert 'data-state="&lt;img src=x onerror=alert(1)&gt;" data-outcome="running"' in svg
    assert "<img" not in svg
    assert "NumericLessThan 3" in svg
    assert svg.count('class="edge edge-') == 3


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("name=no-such-execution", "No execution no-such-execution."),
        (
            f"arn=arn:aws:states:{REGION}:123456789012:execution:ConsoleTestBookingEmails:nope",
            f"No execution arn:aws:states:{REGION}:123456789012:execution:ConsoleTestBookingEmails:nope.",
        ),
        ("arn=arn:bogus", "No execution arn:bogus."),
        (
            f"arn=arn:aws:states:{REGION}:123456789012:stateMachine:ConsoleTestBookingEmails",
            f"No execution arn:aws:states:{REGION}:123456789012:stateMachine:ConsoleTestBookingEmails.",
        ),
    ],
)
def test_execution_page_answers_not_found_for_an_unknown_execution(client: Client, query: str, says: str) -> None:
    # Given no execution by that name or ARN

    # When its page is asked for
    response = client.get(f"{MOUNT}/execution?{query}")

    # Then the console says so, with its own policy still applied
    assert response.status_code == 404
    assert says in response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("query", ["name=no-such-execution", "arn=arn:bogus", ""])
def test_execution_api_answers_a_missing_execution_in_json(client: Client, query: str) -> None:
    # Given no execution by that name or ARN, or none asked for
    wanted = query.partition("=")[2]

    # When the JSON route is asked for it
    response = client.get(f"{MOUNT}/api/execution?{query}")

    # Then the answer is a JSON 404 that says which, not an HTML page
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json() == {"error": "Not Found", "message": f"No execution {wanted}."}


def test_api_answers_an_unknown_route_in_json(client: Client) -> None:
    # Given a path under the JSON routes that is not one

    # When it is asked for
    response = client.get(f"{MOUNT}/api/nothing-here")

    # Then the 404 is JSON too
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_outbox_page_shows_each_email_and_renders_it_in_a_sandboxed_frame(client: Client) -> None:
    # Given one email in the outbox whose subject carries the hostile guest name

    # When the outbox is loaded
    page = _page(client, "/outbox")

    # Then the email is listed with its recipient, escaped subject and time, and shown in a frame that runs no script
    assert "<td><bdi>restaurant@example.com</bdi></td>" in page
    assert "New booking from &lt;img src=x onerror=alert(1)&gt;" in page
    assert "<td>2026-12-04 15:00:00.000</td>" in page
    assert (
        '<iframe class="email" title="email body" sandbox="allow-popups allow-popups-to-escape-sandbox '
        'allow-top-navigation-by-user-activation"'
    ) in page
    assert "allow-scripts" not in page
    assert f'src="{MOUNT}/outbox/html?email=20261204T150000-restaurant.eml"' in page


def test_email_frame_is_served_with_a_sandbox_policy_and_opens_links_in_a_new_tab(client: Client) -> None:
    # Given the confirmation email in the outbox

    # When its HTML is loaded, as the frame does
    response = client.get(f"{MOUNT}/outbox/html?email=20261204T150000-restaurant.eml")

    # Then it is sandboxed by its own policy, fetches nothing, and its confirmation link opens a new tab
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data:;")
    assert "sandbox allow-popups" in policy
    assert "allow-scripts" not in policy
    html = response.get_data(as_text=True)
    assert html.startswith('<html><head><base target="_blank"><title>booking</title>')
    assert f'href="http://127.0.0.1:9/prod/confirmReservation/{HOSTILE_ID}?token=abc"' in html


def test_email_frame_refuses_a_name_that_is_not_in_the_outbox(client: Client) -> None:
    # Given a name that tries to leave the outbox folder

    # When it is asked for
    response = client.get(f"{MOUNT}/outbox/html?email=../../etc/passwd")

    # Then nothing is read
    assert response.status_code == 404


def test_reservations_page_links_each_reservation_to_its_executions_and_emails(client: Client, cloud: Cloud) -> None:
    # Given two reservations, the hostile one with one execution and one email about it

    # When the reservations page is loaded
    page = _page(client, "/reservations")

    # Then only the reservations table is shown, and the hostile reservation's row links its execution and email
    assert "ConsoleTest-Idempotency" not in page
    row = page[page.index(f"<code><bdi>{HOSTILE_ID}</bdi></code>") :]
    row = row[: row.index("</tr>")]
    assert f'href="{MOUNT}/execution?arn=' in row
    assert "><bdi>booked-recorded</bdi></a>" in row
    assert f'href="{MOUNT}/outbox?email=20261204T150000-restaurant.eml"' in row
    assert "<bdi>&lt;img src=x onerror=alert(1)&gt;</bdi> <bdi>Guest</bdi>" in row
    plain = page[page.index(f"<code><bdi>{PLAIN_ID}</bdi></code>") :]
    plain = plain[: plain.index("</tr>")]
    assert "><bdi>booked-table-missing</bdi></a>" in plain
    assert "><bdi>unknown-event</bdi></a>" in plain


@pytest.mark.parametrize(
    "path",
    [
        "/executions",
        "/reservations",
        "/outbox",
        "/execution?name=booked-table-missing",
        "/execution?name=booked-recorded",
    ],
)
def test_console_pages_show_a_hostile_guest_name_as_text(client: Client, path: str) -> None:
    # Given a guest named like an HTML tag, written straight to the table, and carried into a Fail's cause

    # When any page that can show it is loaded
    page = _page(client, path)

    # Then the tag is never in the page as markup
    assert "<img" not in page
    assert "onerror=alert(1)>" not in page


def test_console_script_is_served_as_a_file_and_never_writes_html(client: Client) -> None:
    # Given the console's static script

    # When it is loaded
    response = client.get(f"{MOUNT}/static/console.js")

    # Then it is JavaScript that builds the DOM with isolated text, and other names are not served
    script = response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "textContent" in script
    assert "td.appendChild(content instanceof Node ? content : isolated(content));" in script
    assert "link.appendChild(isolated(execution.name));" in script
    assert "innerHTML" not in script
    assert client.get(f"{MOUNT}/static/..%2F__init__.py").status_code == 404


def test_print_executions_prints_a_table_of_recent_executions(cloud: Cloud) -> None:
    # Given three finished executions
    out = StringIO()

    # When the two newest failed ones are printed
    print_executions(cloud.endpoint, out=out, status="FAILED", limit=2)

    # Then there is a header and one row each, newest first, with a duration
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["STATE", "MACHINE", "NAME", "STATUS", "START", "DURATION"]
    assert [line.split()[1:3] for line in lines[1:]] == [
        ["unknown-event", "FAILED"],
        ["booked-table-missing", "FAILED"],
    ]
    assert all(line.endswith(" ms") for line in lines[1:])


def test_print_history_prints_one_execution_by_name_with_its_retry_and_errors(cloud: Cloud) -> None:
    # Given an execution whose Task was retried, then caught
    out = StringIO()

    # When its history is printed by name
    print_history(cloud.endpoint, "booked-table-missing", out=out)

    # Then every event is a row, the retry is marked, and the Fail state's error and cause are shown as text
    text = out.getvalue()
    lines = text.splitlines()
    last = lines[-1].split()
    assert last[:2] == ["13", "ExecutionFailed"]
    assert last[3] == "ms"  # the execution's end belongs to no state: the elapsed time follows its type
    assert lines[0] == "ConsoleTestBookingEmails / booked-table-missing: FAILED"
    assert lines[1].split()[:4] == ["ID", "TYPE", "STATE", "ELAPSED"]
    assert [line.split()[1] for line in lines[2:] if "TaskScheduled" in line] == ["TaskScheduled", "TaskScheduled"]
    assert "attempt 2" in text
    assert "retried" in text
    assert f"RecordFailed: could not record {HOSTILE}" in text


@pytest.mark.parametrize(
    "wanted",
    [
        "no-such-execution",
        f"arn:aws:states:{REGION}:123456789012:execution:ConsoleTestBookingEmails:nope",
        f"arn:aws:states:{REGION}:123456789012:stateMachine:ConsoleTestBookingEmails",
        "arn:bogus",
    ],
)
def test_print_history_says_so_when_there_is_no_such_execution(cloud: Cloud, wanted: str) -> None:
    # Given no execution by that name or ARN
    out = StringIO()

    # When its history is asked for
    found = print_history(cloud.endpoint, wanted, out=out)

    # Then one line says so, and the caller is told it was not found
    assert out.getvalue() == f"No execution {wanted}.\n"
    assert found is False


def test_graph_of_the_booking_workflow_draws_every_state() -> None:
    # Given the booking workflow's ASL, when another piece has written it
    path = Path(__file__).resolve().parents[2] / "statemachine" / "booking_emails.asl.json"
    if not path.exists():
        pytest.skip("statemachine/booking_emails.asl.json is not written yet")
    definition = json.loads(path.read_text())

    # When it is drawn with nothing run yet
    svg = render_svg(definition, {})

    # Then every state has a box, every box is not reached, and the start is on the first row
    for state in definition["States"]:
        assert f'data-state="{state}" data-outcome="not-reached"' in svg
    assert layers(definition)[0] == [definition["StartAt"]]


def test_console_needs_no_credentials_and_takes_its_region_from_aws_region(cloud: Cloud) -> None:
    # Given no AWS credentials in the environment, and the region only in AWS_REGION
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_REGION", REGION)
        console = Client(create_app(cloud.endpoint, cloud.outbox))

        # When the executions are read, unmounted this time
        names = [execution["name"] for execution in console.get("/api/executions").get_json()["executions"]]

    # Then they are the local endpoint's executions in that region
    assert {"booked-recorded", "booked-table-missing", "unknown-event"} <= set(names)


def test_console_reads_a_folded_subject_without_its_leading_space(tmp_path: Path) -> None:
    # Given an email whose Subject is folded right after the colon, and folded again inside
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    folded = b"From: bookings@example.org\r\nTo:\r\n desk@example.org\r\nSubject:\r\n New booking request:\r\n"
    folded += b"  4 guests\r\nDate: Sun, 01 Jun 2031 17:30:00 +0000\r\n\r\nHello\r\n"
    (outbox / "20310601T173000.000000Z-folded.eml").write_bytes(folded)

    # When the console reads the outbox
    [email] = CloudReader("http://127.0.0.1:9", outbox).emails()

    # Then the headers are unfolded, with no leading or doubled space
    assert (email.subject, email.recipient) == ("New booking request: 4 guests", "desk@example.org")
