"""The email functions: template data checks, SES error mapping, the token, and sending only once.

NOTE: moto 5.2.5's SES v2 send_email raises NotImplementedError for Template content (see
moto/sesv2/responses.py), so SES is replaced by a botocore Stubber on the module's own client; the stub also
checks every call against the SES v2 API model. The tables and the idempotency store are moto's.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from emails import sender
from shared.errors import (
    EmailRejected,
    EmailThrottled,
    InvalidEvent,
    InvalidReservation,
    ReservationNotFound,
    TemplateDataMissing,
)
from shared.formatting import party_description

RESERVATION_ID = "3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
MISSING = object()  # an attribute left out of the stored item
RESTAURANT_DATA = {
    "guestName": "Ada Lovelace",
    "dateTime": "Tuesday 1 January 2030 at 19:30 (+01:00)",
    "partyDescription": "4 guests",
    "confirmUrl": "https://example.com/prod/confirmReservation/x?token=t",
    "reservationId": RESERVATION_ID,
    "restaurantName": "Chez Test",
}


@dataclass
class SesStub:
    """A Stubber on a module's SES client, plus the parameters of every send it saw."""

    stubber: Stubber
    sent: list[dict[str, Any]] = field(default_factory=list)

    def accept(self, message_id: str = "message-1") -> None:
        """Queue one successful send."""
        self.stubber.add_response("send_email", {"MessageId": message_id})

    def refuse(self, code: str) -> None:
        """Queue one send that fails with SES error ``code``."""
        self.stubber.add_client_error("send_email", service_error_code=code, http_status_code=400)


def _stub_ses(client: Any) -> Iterator[SesStub]:
    stub = SesStub(Stubber(client))
    client.meta.events.register("provide-client-params.sesv2.SendEmail", lambda params, **_: stub.sent.append(params))
    with stub.stubber:
        yield stub


@pytest.fixture
def restaurant_ses(restaurant_email: Any) -> Iterator[SesStub]:
    """The restaurant function's SES client, stubbed."""
    yield from _stub_ses(restaurant_email.SES)


@pytest.fixture
def guest_ses(guest_email: Any) -> Iterator[SesStub]:
    """The guest function's SES client, stubbed."""
    yield from _stub_ses(guest_email.SES)


@pytest.fixture
def pending(reservations: Any) -> dict[str, Any]:
    """A PENDING reservation, as the API stores it."""
    item = {
        "reservationId": RESERVATION_ID,
        "status": "PENDING",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "dateTime": "2030-01-01T19:30:00+01:00",
        "partySize": 4,
        "createdAt": "2029-12-01T10:00:00+00:00",
    }
    reservations.put_item(Item=item)
    return item


def _item(table: Any) -> dict[str, Any]:
    return table.get_item(Key={"reservationId": RESERVATION_ID}, ConsistentRead=True)["Item"]


def test_sender_finds_every_placeholder_of_a_template():
    # GIVEN the bundled restaurant template

    # WHEN its placeholders are read
    names = sender.template_placeholders("restaurant_booking_request")

    # THEN they are the union over subject, HTML and text bodies
    assert names == set(RESTAURANT_DATA)


@pytest.mark.parametrize(
    ("key", "value"),
    [("guestName", None), ("confirmUrl", ""), ("dateTime", "   "), ("partyDescription", "missing")],
    ids=["none", "empty", "blank", "absent"],
)
def test_sender_rejects_template_data_without_a_value(key, value):
    # GIVEN template data where one placeholder has no usable value
    data = dict(RESTAURANT_DATA)
    if value == "missing":
        del data[key]
    else:
        data[key] = value

    # WHEN it is checked
    with pytest.raises(TemplateDataMissing) as raised:
        sender.check_template_data("restaurant_booking_request", data)

    # THEN the error names that placeholder
    assert str(raised.value) == f"template restaurant_booking_request has no value for {key}"


def test_sender_names_all_missing_placeholders():
    # GIVEN data for the guest template with two values missing

    # WHEN it is checked
    with pytest.raises(TemplateDataMissing) as raised:
        sender.check_template_data(
            "guest_booking_confirmed", {"firstName": "Ada", "partyDescription": "2 guests", "dateTime": "x"}
        )

    # THEN both are named
    assert str(raised.value).endswith("has no value for reservationId, restaurantName")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("TooManyRequestsException", EmailThrottled),
        ("LimitExceededException", EmailThrottled),
        ("MessageRejected", EmailRejected),
        ("MailFromDomainNotVerifiedException", EmailRejected),
        ("BadRequestException", EmailRejected),
        ("NotFoundException", EmailRejected),
        ("SendingPausedException", EmailRejected),
    ],
)
def test_sender_maps_ses_errors_to_named_errors(restaurant_email, restaurant_ses, code, expected):
    # GIVEN SES answering with an error
    restaurant_ses.refuse(code)

    # WHEN a template is sent
    with pytest.raises(expected) as raised:
        sender.send_template(
            restaurant_email.SES,
            folder="restaurant_booking_request",
            template_name="t",
            sender="a@example.com",
            recipient="b@example.com",
            data=RESTAURANT_DATA,
        )

    # THEN the named error carries the SES code and no address
    assert str(raised.value).endswith(code)
    assert "example.com" not in str(raised.value)


def test_sender_lets_other_aws_errors_through(restaurant_email, restaurant_ses):
    # GIVEN SES failing in a way that is neither throttling nor rejection
    restaurant_ses.refuse("InternalFailure")

    # WHEN a template is sent
    with pytest.raises(ClientError) as raised:
        sender.send_template(
            restaurant_email.SES,
            folder="restaurant_booking_request",
            template_name="t",
            sender="a@example.com",
            recipient="b@example.com",
            data=RESTAURANT_DATA,
        )

    # THEN the original error propagates for Lambda to report
    assert raised.value.response["Error"]["Code"] == "InternalFailure"


def test_restaurant_email_stores_hash_and_mails_matching_token(
    restaurant_email, restaurant_ses, reservations, pending, event, lambda_context, log_output
):
    # GIVEN a PENDING reservation and SES ready to accept
    restaurant_ses.accept("message-1")

    # WHEN the booking event is handled
    result = restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN the restaurant got the deployed template, whose link's token hashes to the stored hash
    assert result == {"messageId": "message-1", "template": "BookingStack-restaurant_booking_request"}
    [sent] = restaurant_ses.sent
    assert sent["FromEmailAddress"] == "bookings@restaurant.example"
    assert sent["Destination"] == {"ToAddresses": ["owner@restaurant.example"]}
    assert sent["Content"]["Template"]["TemplateName"] == "BookingStack-restaurant_booking_request"
    data = json.loads(sent["Content"]["Template"]["TemplateData"])
    link = urlsplit(data["confirmUrl"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == (
        f"https://abc123.execute-api.us-east-1.amazonaws.com/prod/confirmReservation/{RESERVATION_ID}"
    )
    [token] = parse_qs(link.query)["token"]
    stored = _item(reservations)
    assert stored["confirmTokenHash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(stored)
    assert data["guestName"] == "Ada Lovelace"
    assert data["dateTime"] == "Tuesday 1 January 2030 at 19:30 (+01:00)"
    assert data["partyDescription"] == "4 guests"
    assert data["restaurantName"] == "Chez Test"
    assert data["reservationId"] == RESERVATION_ID
    logs = log_output.getvalue()
    assert token not in logs and "Lovelace" not in logs and "ada@example.com" not in logs
    assert RESERVATION_ID in logs


def test_restaurant_email_duplicate_event_sends_once(restaurant_email, restaurant_ses, pending, event, lambda_context):
    # GIVEN a booking event already handled once
    restaurant_ses.accept("message-1")
    first = restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # WHEN the same event arrives again (no second SES response is queued: a second send would fail)
    second = restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN the stored result is returned and SES was called once
    assert second == first
    assert len(restaurant_ses.sent) == 1


def test_restaurant_email_retry_after_failure_sends(
    restaurant_email, restaurant_ses, reservations, pending, event, lambda_context
):
    # GIVEN a first attempt that SES throttled
    restaurant_ses.refuse("TooManyRequestsException")
    with pytest.raises(EmailThrottled):
        restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)
    restaurant_ses.accept("message-2")

    # WHEN the task is retried
    result = restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN the failure was not remembered: the retry sends, and the stored hash is that of the mailed token
    assert result["messageId"] == "message-2"
    data = json.loads(restaurant_ses.sent[-1]["Content"]["Template"]["TemplateData"])
    [token] = parse_qs(urlsplit(data["confirmUrl"]).query)["token"]
    assert _item(reservations)["confirmTokenHash"] == hashlib.sha256(token.encode()).hexdigest()


def test_restaurant_email_skips_reservation_no_longer_pending(
    restaurant_email, restaurant_ses, reservations, pending, event, lambda_context
):
    # GIVEN a reservation already CONFIRMED
    reservations.put_item(Item={**pending, "status": "CONFIRMED"})

    # WHEN the booking event is handled
    result = restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN nothing is sent and no hash is written
    assert result == {"skipped": "not pending"}
    assert restaurant_ses.sent == []
    assert "confirmTokenHash" not in _item(reservations)


def test_restaurant_email_missing_reservation_raises(restaurant_email, restaurant_ses, event, lambda_context):
    # GIVEN an empty reservation table

    # WHEN the booking event is handled
    with pytest.raises(ReservationNotFound) as raised:
        restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN the error names the reservation and nothing is sent
    assert RESERVATION_ID in str(raised.value)
    assert restaurant_ses.sent == []


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e["detail"].pop("reservationId"),
        lambda e: e["detail"].update(reservationId="not-a-uuid"),
        lambda e: e.pop("detail"),
        lambda e: e.update({"detail-type": "OnReservationConfirmed"}),
    ],
    ids=["no-reservation-id", "malformed-id", "no-detail", "other-detail-type"],
)
def test_restaurant_email_rejects_invalid_event(restaurant_email, restaurant_ses, event, lambda_context, change):
    # GIVEN an event that is not a usable booking event
    booked = event("eventbridge_restaurant_booked")
    change(booked)

    # WHEN it is handled
    with pytest.raises(InvalidEvent):
        restaurant_email.handler(booked, lambda_context)

    # THEN nothing is sent
    assert restaurant_ses.sent == []


def test_guest_email_tells_the_guest(guest_email, guest_ses, reservations, pending, event, lambda_context, log_output):
    # GIVEN a CONFIRMED reservation
    reservations.put_item(Item={**pending, "status": "CONFIRMED", "confirmedAt": "2029-12-02T08:15:00+00:00"})
    guest_ses.accept("message-9")

    # WHEN the confirmation event is handled
    result = guest_email.handler(event("eventbridge_reservation_confirmed"), lambda_context)

    # THEN the guest gets the deployed template with the booking's values
    assert result == {"messageId": "message-9", "template": "BookingStack-guest_booking_confirmed"}
    [sent] = guest_ses.sent
    assert sent["Destination"] == {"ToAddresses": ["ada@example.com"]}
    assert json.loads(sent["Content"]["Template"]["TemplateData"]) == {
        "firstName": "Ada",
        "restaurantName": "Chez Test",
        "dateTime": "Tuesday 1 January 2030 at 19:30 (+01:00)",
        "partyDescription": "4 guests",
        "reservationId": RESERVATION_ID,
    }
    logs = log_output.getvalue()
    assert "ada@example.com" not in logs and "Lovelace" not in logs


def test_guest_email_duplicate_event_sends_once(guest_email, guest_ses, reservations, pending, event, lambda_context):
    # GIVEN a confirmation event already handled once
    reservations.put_item(Item={**pending, "status": "CONFIRMED", "confirmedAt": "2029-12-02T08:15:00+00:00"})
    guest_ses.accept("message-9")
    first = guest_email.handler(event("eventbridge_reservation_confirmed"), lambda_context)

    # WHEN it arrives again
    second = guest_email.handler(event("eventbridge_reservation_confirmed"), lambda_context)

    # THEN SES was called once
    assert second == first
    assert len(guest_ses.sent) == 1


def test_guest_email_missing_reservation_raises(guest_email, guest_ses, event, lambda_context):
    # GIVEN an empty reservation table

    # WHEN the confirmation event is handled
    with pytest.raises(ReservationNotFound):
        guest_email.handler(event("eventbridge_reservation_confirmed"), lambda_context)

    # THEN nothing is sent
    assert guest_ses.sent == []


def test_guest_email_rejects_booked_event(guest_email, guest_ses, event, lambda_context):
    # GIVEN a booking event sent to the guest function by mistake

    # WHEN it is handled
    with pytest.raises(InvalidEvent):
        guest_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN nothing is sent
    assert guest_ses.sent == []


# The item a tester wrote straight into the table with the AWS CLI, as the table returns it.
HAND_WRITTEN = {
    "firstName": Decimal("5"),
    "lastName": [],
    "email": "not an email",
    "dateTime": "not a date",
    "partySize": "four",
    "createdAt": "x",
}


def test_restaurant_email_refuses_hand_written_reservation(
    restaurant_email, restaurant_ses, reservations, pending, event, lambda_context, log_output
):
    # GIVEN a PENDING reservation whose attributes have the wrong types and values
    reservations.put_item(Item={**pending, **HAND_WRITTEN})

    # WHEN the booking event is handled
    with pytest.raises(InvalidReservation) as raised:
        restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN the bad attributes are named, never their values; nothing is sent, no hash is written, no value logged
    assert str(raised.value) == (
        f"reservation {RESERVATION_ID} has an invalid firstName, lastName, email, dateTime, partySize"
    )
    assert restaurant_ses.sent == []
    assert "confirmTokenHash" not in _item(reservations)
    logs = log_output.getvalue()
    assert "not a date" not in logs and "four" not in logs and "not an email" not in logs
    [line] = [json.loads(entry) for entry in logs.splitlines() if "Reservation invalid" in entry]
    assert line["fields"] == ["firstName", "lastName", "email", "dateTime", "partySize"]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("firstName", "Ada\u2028Bcc: x"),
        ("lastName", ["Lovelace"]),
        ("dateTime", "2030-01-01T19:30:00"),
        ("partySize", Decimal("2.5")),
        ("partySize", MISSING),
        # The guest's address is checked at this first email, so the restaurant is never asked to confirm a
        # booking whose guest cannot be told.
        ("email", MISSING),
    ],
    ids=["line-separator-name", "list-name", "no-offset", "fraction", "no-party-size", "no-guest-address"],
)
def test_restaurant_email_refuses_reservation_breaking_a_rule(
    restaurant_email, restaurant_ses, reservations, pending, event, lambda_context, attribute, value
):
    # GIVEN a PENDING reservation with one attribute the booking API would have refused, or without it
    item = {**pending, attribute: value}
    if value is MISSING:
        del item[attribute]
    reservations.put_item(Item=item)

    # WHEN the booking event is handled
    with pytest.raises(InvalidReservation) as raised:
        restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN that attribute is named, nothing is sent and no token hash is written
    assert str(raised.value) == f"reservation {RESERVATION_ID} has an invalid {attribute}"
    assert restaurant_ses.sent == []
    assert "confirmTokenHash" not in _item(reservations)


def test_restaurant_email_sends_a_stored_markup_name_for_the_template_to_escape(
    restaurant_email, restaurant_ses, reservations, pending, event, lambda_context
):
    # GIVEN a PENDING reservation written around the API, whose guest name is markup
    reservations.put_item(Item={**pending, "firstName": "<img src=x onerror=alert(1)>", "lastName": "<b>L</b>"})
    restaurant_ses.accept("message-1")

    # WHEN the booking event is handled
    restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN the name goes to SES as the text it is; the deployed template escapes it in the HTML part
    [sent] = restaurant_ses.sent
    data = json.loads(sent["Content"]["Template"]["TemplateData"])
    assert data["guestName"] == "<img src=x onerror=alert(1)> <b>L</b>"


@pytest.mark.parametrize(("attribute", "value"), [("email", "not an email"), ("firstName", Decimal("5"))])
def test_guest_email_refuses_invalid_reservation(
    guest_email, guest_ses, reservations, pending, event, lambda_context, log_output, attribute, value
):
    # GIVEN a CONFIRMED reservation with a guest address or name that is not one
    confirmed = {**pending, "status": "CONFIRMED", "confirmedAt": "2029-12-02T08:15:00+00:00"}
    reservations.put_item(Item={**confirmed, attribute: value})

    # WHEN the confirmation event is handled
    with pytest.raises(InvalidReservation) as raised:
        guest_email.handler(event("eventbridge_reservation_confirmed"), lambda_context)

    # THEN the attribute is named, nothing is sent and the value is not logged
    assert str(raised.value) == f"reservation {RESERVATION_ID} has an invalid {attribute}"
    assert guest_ses.sent == []
    assert "not an email" not in log_output.getvalue()


@pytest.mark.parametrize(("size", "phrase"), [(1, "1 guest"), (2, "2 guests"), (50, "50 guests")])
def test_party_description_agrees_in_number(size, phrase):
    # GIVEN a party size

    # WHEN it is put in words
    text = party_description(size)

    # THEN one guest is singular, more are plural
    assert text == phrase


def test_restaurant_email_party_of_one_reads_one_guest(
    restaurant_email, restaurant_ses, reservations, pending, event, lambda_context
):
    # GIVEN a reservation for one
    reservations.put_item(Item={**pending, "partySize": 1})
    restaurant_ses.accept()

    # WHEN the booking event is handled
    restaurant_email.handler(event("eventbridge_restaurant_booked"), lambda_context)

    # THEN the template gets the phrase, and the subject uses it rather than a bare number before "guests"
    data = json.loads(restaurant_ses.sent[0]["Content"]["Template"]["TemplateData"])
    assert data["partyDescription"] == "1 guest"
    subject = (sender.TEMPLATES_DIR / "restaurant_booking_request" / "subject.txt").read_text(encoding="utf-8")
    assert subject.strip() == "New booking request: {{partyDescription}} on {{dateTime}}"
