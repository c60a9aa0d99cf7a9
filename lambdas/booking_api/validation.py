"""Turn an untrusted request body into a BookingRequest, or say exactly which fields are wrong.

Nothing here touches AWS: every check is a pure function of the input and the current time. The rule of each
field lives in shared.rules, which the functions reading the table apply too.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import InvalidBookingRequest
from shared.rules import email_problem, name_problem, parse_date_time, party_size_problem

# A booking is five short fields; anything much larger is not a booking, and echoing it back is pointless.
MAX_BODY_BYTES = 8 * 1024
# Unknown field names are reported back, cut to this length.
MAX_REPORTED_FIELD_LENGTH = 64

FIELDS = ("firstName", "lastName", "email", "dateTime", "partySize")


@dataclass(frozen=True)
class BookingRequest:
    """A booking request that passed every check."""

    first_name: str
    last_name: str
    email: str
    date_time: str
    starts_at: datetime
    party_size: int


def _reject_body(reason: str) -> InvalidBookingRequest:
    return InvalidBookingRequest({"body": reason})


def decode_body(body: str | None, is_base64_encoded: bool) -> str:
    """Return the request body as text, undoing API Gateway's base64; ValueError if it cannot be decoded."""
    if not body:
        return ""
    if not is_base64_encoded:
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as err:
        raise ValueError("body is not base64-encoded UTF-8") from err


def parse_booking_body(body: str | None, is_base64_encoded: bool) -> dict[str, Any]:
    """Decode the body and parse it as a JSON object; InvalidBookingRequest naming ``body`` otherwise."""
    if body and len(body) > MAX_BODY_BYTES * 2:
        raise _reject_body("is too large")
    try:
        text = decode_body(body, is_base64_encoded)
    except ValueError as err:
        raise _reject_body("is not valid base64-encoded UTF-8") from err
    if not text:
        raise _reject_body("is required")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise _reject_body("is too large")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise _reject_body("is not valid JSON") from err
    if not isinstance(payload, dict):
        raise _reject_body("must be a JSON object")
    return payload


def _parse_future_date_time(value: Any, now: datetime) -> tuple[datetime | None, str | None]:
    starts_at, reason = parse_date_time(value)
    if starts_at is not None and starts_at <= now:
        return None, "must be in the future"
    return starts_at, reason


def validate_booking(payload: dict[str, Any], now: datetime) -> BookingRequest:
    """Check every field of a parsed body; InvalidBookingRequest names each bad or unknown field."""
    errors: dict[str, str] = {}
    for field in payload:
        if field not in FIELDS:
            errors[str(field)[:MAX_REPORTED_FIELD_LENGTH]] = "is not a known field"
    for field in FIELDS:
        if payload.get(field) is None:
            errors[field] = "is required"

    checks = {
        "firstName": name_problem,
        "lastName": name_problem,
        "email": email_problem,
        "partySize": party_size_problem,
    }
    for field, check in checks.items():
        if field not in errors and (reason := check(payload[field])):
            errors[field] = reason
    starts_at = None
    if "dateTime" not in errors:
        starts_at, reason = _parse_future_date_time(payload["dateTime"], now)
        if reason:
            errors["dateTime"] = reason

    if errors or starts_at is None:
        raise InvalidBookingRequest(errors)
    return BookingRequest(
        first_name=payload["firstName"].strip(),
        last_name=payload["lastName"].strip(),
        email=payload["email"],
        date_time=payload["dateTime"],
        starts_at=starts_at,
        party_size=payload["partySize"],
    )
