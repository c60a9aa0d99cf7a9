"""POST /bookRestaurant: validation, awkward bodies, and the stored reservation."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

VALID = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "email": "ada@example.com",
    "dateTime": "2030-01-01T19:30:00+01:00",
    "partySize": 4,
}


def _book(api: Any, event: Any, body: str | None, base64_encoded: bool = False) -> Any:
    request = event("apigw_book_restaurant")
    request["body"] = body
    request["isBase64Encoded"] = base64_encoded
    return api(request)


def _stored(table: Any) -> list[dict[str, Any]]:
    return table.scan(ConsistentRead=True)["Items"]


def test_book_restaurant_stores_pending_reservation(booking_api, reservations, event, log_output):
    # GIVEN a valid booking request
    body = json.dumps(VALID)

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN it answers 201 with the new id, and the item holds every field, PENDING, with a numeric party size
    assert response.status == 201
    assert response.headers["Content-Type"] == "application/json"
    reservation_id = response.json()["reservationId"]
    assert str(uuid.UUID(reservation_id, version=4)) == reservation_id
    [item] = _stored(reservations)
    assert item["reservationId"] == reservation_id
    assert item["status"] == "PENDING"
    assert (item["firstName"], item["lastName"], item["email"]) == ("Ada", "Lovelace", "ada@example.com")
    assert item["dateTime"] == "2030-01-01T19:30:00+01:00"
    assert item["partySize"] == 4 and not isinstance(item["partySize"], str)
    assert int(item["expiresAt"]) == int(datetime.fromisoformat(VALID["dateTime"]).timestamp()) + 30 * 86400
    assert datetime.fromisoformat(item["createdAt"]).tzinfo is not None
    assert "confirmTokenHash" not in item
    [stored_line] = [json.loads(line) for line in log_output.getvalue().splitlines() if "Reservation stored" in line]
    assert stored_line["reservationId"] == stored_line["correlation_id"] == reservation_id
    assert "Lovelace" not in log_output.getvalue() and "ada@example.com" not in log_output.getvalue()


def test_book_restaurant_trims_names(booking_api, reservations, event):
    # GIVEN names padded with spaces
    body = json.dumps({**VALID, "firstName": "  Ada ", "lastName": "\tLovelace  "})

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN the stored names are trimmed
    assert response.status == 201
    [item] = _stored(reservations)
    assert (item["firstName"], item["lastName"]) == ("Ada", "Lovelace")


def test_book_restaurant_accepts_base64_body(booking_api, reservations, event):
    # GIVEN a valid body that API Gateway base64-encoded
    body = base64.b64encode(json.dumps(VALID).encode()).decode()

    # WHEN it is posted
    response = _book(booking_api, event, body, base64_encoded=True)

    # THEN it is decoded and stored like any other
    assert response.status == 201
    [item] = _stored(reservations)
    assert item["reservationId"] == response.json()["reservationId"]


PAST = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("firstName", None),
        ("firstName", ""),
        ("firstName", "   "),
        ("firstName", "A" * 101),
        ("firstName", "<script>"),
        ("firstName", "Ada>"),
        ("firstName", "Ada\nLovelace"),
        ("firstName", "Ada\u202e"),
        ("firstName", 42),
        ("lastName", None),
        ("lastName", "x" * 150),
        ("lastName", "Love\x00lace"),
        ("lastName", ["Lovelace"]),
        ("email", None),
        ("email", "ada"),
        ("email", "ada@example"),
        ("email", "ada@@example.com"),
        ("email", "a@b@example.com"),
        ("email", "ada lovelace@example.com"),
        ("email", " ada@example.com"),
        ("email", "ada@example..com"),
        ("email", "ada@-example.com"),
        ("email", ".ada@example.com"),
        ("email", "ada@example.123"),
        ("email", "a" * 65 + "@example.com"),
        ("email", "ada@" + "a" * 250 + ".com"),
        ("email", "<ada@example.com>"),
        ("email", 7),
        ("dateTime", None),
        ("dateTime", "2030-01-01T19:30:00"),
        ("dateTime", "2030-01-01"),
        ("dateTime", "tomorrow at 8"),
        ("dateTime", "2030-13-01T19:30:00+01:00"),
        ("dateTime", PAST),
        ("dateTime", 1893456000),
        ("dateTime", "2030-01-01T19:30:00+01:00" + " " * 60),
        ("partySize", None),
        ("partySize", 0),
        ("partySize", 51),
        ("partySize", -1),
        ("partySize", 4.5),
        ("partySize", 4.0),
        ("partySize", "4"),
        ("partySize", True),
        ("partySize", [4]),
    ],
)
def test_book_restaurant_rejects_invalid_field(booking_api, reservations, event, field, value):
    # GIVEN a request whose only fault is one field
    body = json.dumps({**VALID, field: value})

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN exactly that field is named, and nothing is stored
    assert response.status == 400
    answer = response.json()
    assert answer["message"] == "Invalid booking request"
    assert list(answer["errors"]) == [field]
    assert _stored(reservations) == []


@pytest.mark.parametrize("field", ["firstName", "lastName", "email", "dateTime", "partySize"])
def test_book_restaurant_rejects_missing_field(booking_api, reservations, event, field):
    # GIVEN a request without one field
    body = json.dumps({name: value for name, value in VALID.items() if name != field})

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN that field is reported as required, and nothing is stored
    assert response.status == 400
    assert response.json()["errors"] == {field: "is required"}
    assert _stored(reservations) == []


def test_book_restaurant_names_every_bad_and_unknown_field(booking_api, reservations, event):
    # GIVEN a request with two bad fields and two unknown ones
    body = json.dumps({**VALID, "email": "nope", "partySize": 99, "status": "CONFIRMED", "reservationId": "x"})

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN each is named once, and nothing is stored
    assert response.status == 400
    errors = response.json()["errors"]
    assert set(errors) == {"email", "partySize", "status", "reservationId"}
    assert errors["status"] == "is not a known field"
    assert _stored(reservations) == []


@pytest.mark.parametrize(
    ("body", "base64_encoded", "reason"),
    [
        (None, False, "is required"),
        ("", False, "is required"),
        ("   ", False, "is not valid JSON"),
        ("{not json", False, "is not valid JSON"),
        ("[1, 2]", False, "must be a JSON object"),
        ('"a string"', False, "must be a JSON object"),
        ("42", False, "must be a JSON object"),
        ("null", False, "must be a JSON object"),
        ("[" * 5000, False, "is not valid JSON"),
        ('{"partySize": ' + "9" * 5000 + "}", False, "is not valid JSON"),
        ('{"firstName": "' + "a" * 9000 + '"}', False, "is too large"),
        (base64.b64encode(b"\xff\xfe{}").decode(), True, "is not valid base64-encoded UTF-8"),
        ("%%%not base64%%%", True, "is not valid base64-encoded UTF-8"),
        (base64.b64encode(b"[]").decode(), True, "must be a JSON object"),
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "not-json",
        "array",
        "string",
        "number",
        "null",
        "deeply-nested",
        "huge-integer",
        "too-large",
        "base64-invalid-utf8",
        "base64-undecodable",
        "base64-array",
    ],
)
def test_book_restaurant_rejects_bad_body(booking_api, reservations, event, body, base64_encoded, reason):
    # GIVEN a body that is not a booking object

    # WHEN it is posted
    response = _book(booking_api, event, body, base64_encoded)

    # THEN the body itself is named with the reason, and nothing is stored
    assert response.status == 400
    assert response.json() == {"message": "Invalid booking request", "errors": {"body": reason}}
    assert _stored(reservations) == []


def test_book_restaurant_rejects_lone_surrogate_in_name(booking_api, reservations, event):
    # GIVEN JSON text whose name escapes a lone surrogate (not encodable as UTF-8)
    body = json.dumps(VALID).replace('"Ada"', '"Ada\\ud800"')

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN the name is refused rather than failing when stored
    assert response.status == 400
    assert list(response.json()["errors"]) == ["firstName"]
    assert _stored(reservations) == []


def test_book_restaurant_answers_500_with_fixed_message_when_table_fails(booking_api, event):
    # GIVEN the table has gone away (a fault on our side, not the client's)
    booking_api.module.TABLE._table.delete()

    # WHEN a valid booking is posted
    response = _book(booking_api, event, json.dumps(VALID))

    # THEN the answer is a fixed 500 message with no detail of the failure
    assert response.status == 500
    assert response.json() == {"message": "Internal server error"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2030-01-01T19:30:00+23:59", "must have a time zone offset between -12:00 and +14:00"),
        ("2030-01-01T19:30:00-12:30", "must have a time zone offset between -12:00 and +14:00"),
        ("2030-01-01T19:30:00+01:00:30", "must give its time zone offset as Z or ±HH:MM"),
        ("2030-01-01T19:30:00+01:00:00.5", "must give its time zone offset as Z or ±HH:MM"),
        ("2030-01-01T19:30:00+0100", "must give its time zone offset as Z or ±HH:MM"),
        ("2030-01-01T19:30:00+01", "must give its time zone offset as Z or ±HH:MM"),
        ("2030-01-01T19:30:00+01:75", "must give its time zone offset as Z or ±HH:MM"),
    ],
    ids=[
        "beyond-plus-14",
        "beyond-minus-12",
        "offset-seconds",
        "offset-fraction",
        "no-colon",
        "hours-only",
        "minutes-75",
    ],
)
def test_book_restaurant_rejects_offset_that_is_not_a_time_zone(booking_api, reservations, event, value, reason):
    # GIVEN a date and time whose offset Python parses but no real time zone has, or ISO 8601 does not write so
    body = json.dumps({**VALID, "dateTime": value})

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN dateTime is named with the reason, and nothing is stored
    assert response.status == 400
    assert response.json()["errors"] == {"dateTime": reason}
    assert _stored(reservations) == []


@pytest.mark.parametrize(
    "value",
    ["2030-01-01T19:30:00+14:00", "2030-01-01T19:30:00-12:00", "2030-01-01T19:30:00Z", "2030-01-01T19:30:00.250+05:45"],
)
def test_book_restaurant_accepts_offsets_of_real_time_zones(booking_api, reservations, event, value):
    # GIVEN a date and time at the edge of the time zone range, in UTC, or with a quarter-hour offset
    body = json.dumps({**VALID, "dateTime": value})

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN it is stored as sent
    assert response.status == 201
    [item] = _stored(reservations)
    assert item["dateTime"] == value


@pytest.mark.parametrize(
    "name",
    ["Ada\u2028Lovelace", "Ada\u2029Lovelace", "\u202aAda", "Ada\u202d", "Ada\u2066x\u2069", "Ada\u2067", "Ada\u2068"],
    ids=["line-separator", "paragraph-separator", "lre", "lro", "lri-pdi", "rli", "fsi"],
)
def test_book_restaurant_rejects_line_breaking_and_bidi_characters_in_names(booking_api, reservations, event, name):
    # GIVEN a first name with a Unicode line or paragraph separator inside (at the ends it is trimmed like a tab),
    # or a bidirectional embedding, override or isolate
    body = json.dumps({**VALID, "firstName": name})

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN the name is refused like a control character, and nothing is stored
    assert response.status == 400
    assert response.json()["errors"] == {"firstName": "must not contain markup or control characters"}
    assert _stored(reservations) == []


def test_book_restaurant_accepts_emoji_joined_with_zwj(booking_api, reservations, event):
    # GIVEN a name holding an emoji sequence joined by ZERO WIDTH JOINER (cook: woman + ZWJ + frying pan)
    name = "Ada \U0001f469\u200d\U0001f373"
    body = json.dumps({**VALID, "firstName": name})

    # WHEN it is posted
    response = _book(booking_api, event, body)

    # THEN the name is stored unchanged
    assert response.status == 201
    [item] = _stored(reservations)
    assert item["firstName"] == name


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"],
    ids=["none", "text-plain", "form", "multipart", "lookalike"],
)
def test_book_restaurant_refuses_body_that_is_not_declared_json(booking_api, reservations, event, content_type):
    # GIVEN a valid JSON body sent with another media type, or none (as a cross-site form post would)
    request = event("apigw_book_restaurant")
    del request["headers"]["Content-Type"]
    del request["multiValueHeaders"]["Content-Type"]
    if content_type is not None:
        request["headers"]["Content-Type"] = content_type
        request["multiValueHeaders"]["Content-Type"] = [content_type]

    # WHEN it is posted
    response = booking_api(request)

    # THEN 415 names the header, and nothing is stored
    assert response.status == 415
    assert response.json() == {
        "message": "Unsupported media type",
        "errors": {"Content-Type": "must be application/json"},
    }
    assert _stored(reservations) == []


@pytest.mark.parametrize(
    ("header", "content_type"),
    [("content-type", "application/json"), ("Content-Type", "Application/JSON; charset=utf-8")],
    ids=["lower-case-name", "parameters-and-case"],
)
def test_book_restaurant_accepts_json_media_type_in_any_case(booking_api, reservations, event, header, content_type):
    # GIVEN a booking whose Content-Type header is written in another case, with a charset parameter
    request = event("apigw_book_restaurant")
    del request["headers"]["Content-Type"]
    del request["multiValueHeaders"]["Content-Type"]
    request["headers"][header] = content_type
    request["multiValueHeaders"][header] = [content_type]

    # WHEN it is posted
    response = booking_api(request)

    # THEN it is stored
    assert response.status == 201
    [item] = _stored(reservations)
    assert item["reservationId"] == response.json()["reservationId"]
