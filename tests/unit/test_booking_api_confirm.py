"""GET and POST /confirmReservation/{reservationId}: a read-only page, then a one-time conditional confirm."""

import base64
import hashlib
import json
from typing import Any

import pytest
from booking_api import pages

RESERVATION_ID = "3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"
TOKEN = "s3cr3t-T0ken_abcdefghijklmnopqrstuvwxyz012345"
OTHER_TOKEN = "Wrong-T0ken_abcdefghijklmnopqrstuvwxyz0123456"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def pending(reservations: Any) -> dict[str, Any]:
    """A PENDING reservation whose restaurant email (with TOKEN) has gone out."""
    item = {
        "reservationId": RESERVATION_ID,
        "status": "PENDING",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@example.com",
        "dateTime": "2030-01-01T19:30:00+01:00",
        "partySize": 4,
        "createdAt": "2029-12-01T10:00:00+00:00",
        "confirmTokenHash": _hash(TOKEN),
    }
    reservations.put_item(Item=item)
    return item


def _item(table: Any, reservation_id: str = RESERVATION_ID) -> dict[str, Any] | None:
    return table.get_item(Key={"reservationId": reservation_id}, ConsistentRead=True).get("Item")


def _page_request(event: Any, token: str | None, reservation_id: str = RESERVATION_ID) -> dict[str, Any]:
    request = event("apigw_confirm_page")
    request["path"] = f"/confirmReservation/{reservation_id}"
    request["pathParameters"] = {"reservationId": reservation_id}
    request["queryStringParameters"] = {"token": token} if token is not None else None
    request["multiValueQueryStringParameters"] = {"token": [token]} if token is not None else None
    return request


def _post_request(event: Any, body: str | None, reservation_id: str = RESERVATION_ID) -> dict[str, Any]:
    request = event("apigw_confirm_post")
    request["path"] = f"/confirmReservation/{reservation_id}"
    request["pathParameters"] = {"reservationId": reservation_id}
    request["body"] = body
    return request


def test_confirm_page_shows_form_without_writing(booking_api, reservations, pending, event):
    # GIVEN a pending reservation and its emailed link

    # WHEN the link is opened (or prefetched by a mail scanner)
    answer = booking_api(_page_request(event, TOKEN))

    # THEN the page offers a POST form carrying the token, shows only date and size, and the item is unchanged
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert '<form method="post" action="3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f">' in answer.body
    assert f'<input type="hidden" name="token" value="{TOKEN}">' in answer.body
    assert "Tuesday 1 January 2030 at 19:30 (+01:00)" in answer.body
    assert "Table for <strong>4 guests</strong>" in answer.body
    assert "Ada" not in answer.body and "ada@example.com" not in answer.body
    assert _item(reservations) == pending


def test_confirm_page_escapes_stored_values(booking_api, reservations, pending, event):
    # GIVEN a stored date that is not a date (written by something other than the API)
    reservations.update_item(
        Key={"reservationId": RESERVATION_ID},
        UpdateExpression="SET #d = :d",
        ExpressionAttributeNames={"#d": "dateTime"},
        ExpressionAttributeValues={":d": "<script>alert(1)</script>"},
    )

    # WHEN the link is opened
    answer = booking_api(_page_request(event, TOKEN))

    # THEN the value is shown escaped, never as markup
    assert answer.status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.body
    assert "<script>" not in answer.body


@pytest.mark.parametrize(
    ("reservation_id", "token"),
    [
        (RESERVATION_ID, OTHER_TOKEN),
        (RESERVATION_ID, None),
        (RESERVATION_ID, ""),
        (RESERVATION_ID, "<b>x</b>"),
        ("9e1c6d2a-0b3f-4c5d-8e7f-112233445566", TOKEN),
        ("not-a-uuid", TOKEN),
        (RESERVATION_ID.upper(), TOKEN),
    ],
    ids=["wrong-token", "no-token", "empty-token", "markup-token", "unknown-id", "malformed-id", "upper-case-id"],
)
def test_confirm_page_answers_404(booking_api, reservations, pending, event, reservation_id, token):
    # GIVEN a link that does not match the pending reservation

    # WHEN it is opened
    answer = booking_api(_page_request(event, token, reservation_id))

    # THEN a 404 page says so, without a form, and nothing changed
    assert answer.status == 404
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Reservation not found" in answer.body
    assert "<form" not in answer.body
    assert _item(reservations) == pending


def test_confirm_page_answers_404_before_email_sent(booking_api, reservations, pending, event):
    # GIVEN a reservation with no token hash yet
    reservations.update_item(Key={"reservationId": RESERVATION_ID}, UpdateExpression="REMOVE confirmTokenHash")

    # WHEN any token is tried
    answer = booking_api(_page_request(event, TOKEN))

    # THEN it is not found
    assert answer.status == 404


def test_confirm_page_party_of_one_reads_one_guest(booking_api, reservations, pending, event):
    # GIVEN a pending reservation for one
    reservations.put_item(Item={**pending, "partySize": 1})

    # WHEN the link is opened
    answer = booking_api(_page_request(event, TOKEN))

    # THEN the page uses the same phrase as the emails
    assert "Table for <strong>1 guest</strong>" in answer.body


def test_confirm_page_shows_a_size_that_is_no_whole_number_as_stored():
    # GIVEN a party size that only an item written around the API could hold

    # WHEN the confirmed page is rendered with it
    page = pages.confirmed("2030-01-01T19:30:00+01:00", "<four>", already=False)

    # THEN it is shown escaped, as stored, rather than failing the page
    assert "Table for <strong>&lt;four&gt;</strong>" in page


def test_confirm_page_says_already_confirmed(booking_api, reservations, pending, event):
    # GIVEN a reservation confirmed earlier with this token
    reservations.put_item(Item={**pending, "status": "CONFIRMED", "confirmedAt": "2029-12-02T08:15:00+00:00"})

    # WHEN the link is opened again
    answer = booking_api(_page_request(event, TOKEN))

    # THEN the page says so and offers no form
    assert answer.status == 200
    assert "already confirmed" in answer.body
    assert "<form" not in answer.body


def test_confirm_post_confirms_pending_reservation(booking_api, reservations, pending, event):
    # GIVEN a pending reservation

    # WHEN the form posts its token
    answer = booking_api(_post_request(event, f"token={TOKEN}"))

    # THEN it is CONFIRMED with a confirmation time, and the page says so with the emails' party phrase
    assert answer.status == 200
    assert "Reservation confirmed" in answer.body
    assert "Table for <strong>4 guests</strong>" in answer.body
    assert answer.headers["Cache-Control"] == "no-store"
    item = _item(reservations)
    assert item["status"] == "CONFIRMED"
    assert item["confirmedAt"].endswith("+00:00")
    assert {key: value for key, value in item.items() if key not in ("status", "confirmedAt")} == {
        key: value for key, value in pending.items() if key != "status"
    }


def test_confirm_post_accepts_token_in_query(booking_api, reservations, pending, event):
    # GIVEN a POST with an empty body and the token in the query string
    request = _post_request(event, None)
    request["queryStringParameters"] = {"token": TOKEN}
    request["multiValueQueryStringParameters"] = {"token": [TOKEN]}

    # WHEN it is sent
    answer = booking_api(request)

    # THEN the reservation is confirmed
    assert answer.status == 200
    assert _item(reservations)["status"] == "CONFIRMED"


def test_confirm_post_accepts_base64_form(booking_api, reservations, pending, event):
    # GIVEN a form body that API Gateway base64-encoded
    request = _post_request(event, base64.b64encode(f"token={TOKEN}".encode()).decode())
    request["isBase64Encoded"] = True

    # WHEN it is sent
    answer = booking_api(request)

    # THEN the reservation is confirmed
    assert answer.status == 200
    assert _item(reservations)["status"] == "CONFIRMED"


def test_confirm_post_twice_answers_200_and_writes_once(booking_api, reservations, pending, event):
    # GIVEN a reservation confirmed by a first POST
    booking_api(_post_request(event, f"token={TOKEN}"))
    first = _item(reservations)

    # WHEN the same form is posted again
    answer = booking_api(_post_request(event, f"token={TOKEN}"))

    # THEN the page says it was already confirmed and the item is exactly as after the first POST
    assert answer.status == 200
    assert "already confirmed" in answer.body
    assert _item(reservations) == first


def test_confirm_post_with_wrong_token_answers_404(booking_api, reservations, pending, event):
    # GIVEN a pending reservation

    # WHEN a different token is posted
    answer = booking_api(_post_request(event, f"token={OTHER_TOKEN}"))

    # THEN it is not found and the item is unchanged
    assert answer.status == 404
    assert _item(reservations) == pending


def test_confirm_post_with_wrong_token_after_confirmation_answers_404(booking_api, reservations, pending, event):
    # GIVEN a reservation already confirmed with the right token
    booking_api(_post_request(event, f"token={TOKEN}"))
    confirmed = _item(reservations)

    # WHEN someone posts another token
    answer = booking_api(_post_request(event, f"token={OTHER_TOKEN}"))

    # THEN it is not found and nothing changes
    assert answer.status == 404
    assert _item(reservations) == confirmed


@pytest.mark.parametrize(
    "reservation_id",
    ["9e1c6d2a-0b3f-4c5d-8e7f-112233445566", "not-a-uuid"],
    ids=["unknown-id", "malformed-id"],
)
def test_confirm_post_for_unknown_reservation_creates_nothing(booking_api, reservations, event, reservation_id):
    # GIVEN an empty table

    # WHEN a confirmation is posted for an id that does not exist
    answer = booking_api(_post_request(event, f"token={TOKEN}", reservation_id))

    # THEN it is not found and no item appeared (the update is never an upsert)
    assert answer.status == 404
    assert reservations.scan(ConsistentRead=True)["Items"] == []


@pytest.mark.parametrize(
    "body",
    [None, "", "token=", "tok", "token=" + "a" * 500, "&".join(["x=1"] * 50), "%ff%fe=%ff"],
    ids=["none", "empty", "blank-token", "no-token", "long-token", "many-fields", "bad-encoding"],
)
def test_confirm_post_with_bad_form_answers_404(booking_api, reservations, pending, event, body):
    # GIVEN a form without a usable token

    # WHEN it is posted
    answer = booking_api(_post_request(event, body))

    # THEN it is not found and the item is unchanged
    assert answer.status == 404
    assert _item(reservations) == pending


def test_booking_api_unknown_route_answers_404_json(booking_api, event):
    # GIVEN a path the API does not serve
    request = event("apigw_book_restaurant")
    request["path"] = "/admin"

    # WHEN it is requested
    answer = booking_api(request)

    # THEN a JSON 404
    assert answer.status == 404
    assert answer.json() == {"message": "Not found"}
    assert answer.headers["Content-Type"] == "application/json"


def test_booking_api_wrong_method_answers_405(booking_api, event):
    # GIVEN a known path with a method it does not answer
    request = event("apigw_book_restaurant")
    request["httpMethod"] = "DELETE"

    # WHEN it is requested
    answer = booking_api(request)

    # THEN 405 naming the allowed method
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "reservation_id",
    ["\x00", "\r\n", "%00", "%0d%0a", "x\x00y"],
    ids=["nul", "crlf", "pct-nul", "pct-crlf", "inner-nul"],
)
def test_booking_api_malformed_id_answers_404_not_405(
    booking_api, reservations, pending, event, method, reservation_id
):
    # GIVEN a confirmation path whose id holds characters the router does not match, decoded or not
    request = (
        _page_request(event, TOKEN, reservation_id)
        if method == "GET"
        else _post_request(event, f"token={TOKEN}", reservation_id)
    )

    # WHEN it is requested with a method the path answers
    answer = booking_api(request)

    # THEN it is a 404 like any malformed id, with no Allow header, and nothing changed
    assert answer.status == 404
    assert "Allow" not in answer.headers
    assert _item(reservations) == pending


def test_confirm_page_view_publishes_a_metric(booking_api, reservations, pending, event, capsys, recwarn):
    # GIVEN a pending reservation and its emailed link

    # WHEN the link is opened
    answer = booking_api(_page_request(event, TOKEN))

    # THEN the view is counted in the metrics written, and Powertools has no empty-metrics warning to give
    assert answer.status == 200
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [blob.get("ConfirmationPageViewed") for blob in blobs] == [[1.0]]
    assert not [w for w in recwarn if "No application metrics" in str(w.message)]
