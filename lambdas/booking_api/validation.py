"""Turn an untrusted request body into a BookingRequest, or say exactly which fields are wrong.

Nothing here touches AWS: every check is a pure function of the input and the current time.
"""

import base64
import binascii
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.errors import InvalidBookingRequest

# A booking is five short fields; anything much larger is not a booking, and echoing it back is pointless.
MAX_BODY_BYTES = 8 * 1024
MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
MAX_DATETIME_LENGTH = 64
MIN_PARTY_SIZE = 1
MAX_PARTY_SIZE = 50
# Unknown field names are reported back, cut to this length.
MAX_REPORTED_FIELD_LENGTH = 64

FIELDS = ("firstName", "lastName", "email", "dateTime", "partySize")

# Joiners shape letters in several scripts (Persian, Indic), so they may appear inside a name.
_ALLOWED_FORMAT_CHARACTERS = {"\u200c", "\u200d"}
# NOTE: addresses are limited to ASCII (RFC 5321 dot-atom local part, LDH domain labels). SES does not accept
# internationalized local parts; an internationalized domain can still be typed in its punycode form.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


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


def _has_forbidden_character(text: str) -> bool:
    for character in text:
        if character in "<>":
            return True
        if unicodedata.category(character).startswith("C") and character not in _ALLOWED_FORMAT_CHARACTERS:
            return True
    return False


def _check_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    name = value.strip()
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    if _has_forbidden_character(name):
        return "must not contain markup or control characters"
    return None


def _check_email(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if len(value) > MAX_EMAIL_LENGTH:
        return f"must be at most {MAX_EMAIL_LENGTH} characters"
    if value.count("@") != 1:
        return "must be a valid email address"
    local_part, domain = value.split("@")
    if not 0 < len(local_part) <= MAX_LOCAL_PART_LENGTH or not _LOCAL_PART.fullmatch(local_part):
        return "must be a valid email address"
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        return "must be a valid email address"
    return None


def _parse_date_time(value: Any, now: datetime) -> tuple[datetime | None, str | None]:
    if not isinstance(value, str):
        return None, "must be a string"
    if len(value) > MAX_DATETIME_LENGTH:
        return None, "must be an ISO 8601 date and time with a time zone offset"
    try:
        starts_at = datetime.fromisoformat(value)
    except ValueError:
        return None, "must be an ISO 8601 date and time with a time zone offset"
    if starts_at.utcoffset() is None:
        return None, "must include a time zone offset"
    if starts_at <= now:
        return None, "must be in the future"
    return starts_at, None


def _check_party_size(value: Any) -> str | None:
    # bool is a subclass of int, and 4.0 or "4" are not whole numbers as JSON sends them: only a real int passes.
    if type(value) is not int:
        return "must be a whole number"
    if not MIN_PARTY_SIZE <= value <= MAX_PARTY_SIZE:
        return f"must be between {MIN_PARTY_SIZE} and {MAX_PARTY_SIZE}"
    return None


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
        "firstName": _check_name,
        "lastName": _check_name,
        "email": _check_email,
        "partySize": _check_party_size,
    }
    for field, check in checks.items():
        if field not in errors and (reason := check(payload[field])):
            errors[field] = reason
    starts_at = None
    if "dateTime" not in errors:
        starts_at, reason = _parse_date_time(payload["dateTime"], now)
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
