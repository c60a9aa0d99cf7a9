"""The console's pages built from data alone, with no local cloud: failures, hostile text and direction controls."""

import json
from datetime import UTC, datetime

from localcloud.console.data import ExecutionSummary, Reservation
from localcloud.console.pages import MAX_FAILURE_CAUSE, failure_summary, reservations_page

RIGHT_TO_LEFT_OVERRIDE = "\u202e"
STACK_LINE = '  File "/var/task/emails/handler.py", line 42, in send\n'
LAMBDA_CAUSE = json.dumps(
    {
        "errorMessage": "The mail service refused the message <b>twice</b>",
        "errorType": "EmailRejected",
        "requestId": "0b6f0000-0000-4000-8000-000000000001",
        "stackTrace": [STACK_LINE * 40],
    }
)


def _reservation(**item: object) -> Reservation:
    base: dict[str, object] = {
        "reservationId": "7d3f7c1e-0000-4000-8000-0000000000f1",
        "status": "PENDING",
        "firstName": "Ada",
        "lastName": "Guest",
        "dateTime": "2030-01-01T19:30:00+01:00",
        "partySize": 4,
        "createdAt": "2026-12-04T15:00:00Z",
    }
    return Reservation(
        table="Test-Reservations",
        reservation_id=str(base["reservationId"]),
        status=str(item.get("status", base["status"])),
        item={**base, **item},
        executions=[],
        emails=[],
    )


def _row(page: str) -> str:
    body = page[page.index("<tbody>") :]
    return body[: body.index("</tr>")]


def test_reservation_row_shows_a_lambda_failure_as_its_name_and_message_outside_the_badge() -> None:
    # Given a reservation whose email failed with a Lambda error carrying a long stack trace
    failure = {"error": "EmailRejected", "cause": LAMBDA_CAUSE, "detailType": "OnRestaurantBooked"}
    reservation = _reservation(emailFailure=failure)

    # When the reservations page is built
    row = _row(reservations_page("", [reservation], None))

    # Then the status cell holds the badge alone, then the error name and the message, escaped, without the trace
    status_cell = row.split("<td>")[2]
    assert status_cell.startswith('<span class="status status-PENDING"><bdi>PENDING</bdi></span><div class="failure')
    assert (
        '<span class="error"><bdi>EmailRejected</bdi></span> '
        "<bdi>The mail service refused the message &lt;b&gt;twice&lt;/b&gt;</bdi>"
    ) in status_cell
    assert "handler.py" not in status_cell
    assert "stackTrace" not in status_cell
    assert "handler.py" in row  # the whole failure is still in the item's JSON


def test_failure_summary_keeps_the_first_line_of_a_plain_cause_cut_to_a_readable_length() -> None:
    # Given a failure whose cause is plain text of many long lines
    failure = {"error": "States.TaskFailed", "cause": "x" * 500 + "\nsecond line"}

    # When it is summarised
    error, cause = failure_summary(failure)

    # Then the error name is kept and the cause is the first line, cut with an ellipsis
    assert error == "States.TaskFailed"
    assert cause == "x" * (MAX_FAILURE_CAUSE - 1) + "…"


def test_failure_summary_reads_a_failure_that_is_not_a_map_as_a_cause() -> None:
    # Given a failure stored as a bare string

    # When it is summarised
    summary = failure_summary("  mail service down\n  retry later")

    # Then there is no error name and the cause is its first line
    assert summary == ("", "mail service down")


def test_reservation_row_isolates_each_value_from_a_right_to_left_override() -> None:
    # Given a guest whose first name starts with a right-to-left override
    reservation = _reservation(firstName=f"{RIGHT_TO_LEFT_OVERRIDE}Eve")

    # When the reservations page is built
    row = _row(reservations_page("", [reservation], None))

    # Then each part of the name, and every other value, sits in its own isolate
    assert f"<td><bdi>{RIGHT_TO_LEFT_OVERRIDE}Eve</bdi> <bdi>Guest</bdi></td>" in row
    assert "<td><bdi>2030-01-01T19:30:00+01:00</bdi></td><td><bdi>4</bdi></td>" in row


def test_reservation_row_isolates_execution_names() -> None:
    # Given a reservation with an execution whose name carries a right-to-left override
    execution = ExecutionSummary(
        arn="arn:aws:states:us-east-1:123456789012:execution:M:x",
        name=f"{RIGHT_TO_LEFT_OVERRIDE}run",
        state_machine="M",
        status="SUCCEEDED",
        start=datetime(2026, 12, 4, tzinfo=UTC),
        stop=None,
    )
    reservation = _reservation()
    reservation.executions.append(execution)

    # When the reservations page is built
    row = _row(reservations_page("", [reservation], None))

    # Then the execution's name is isolated inside its link
    assert f"><bdi>{RIGHT_TO_LEFT_OVERRIDE}run</bdi></a>" in row
