"""What a valid reservation is: the rule for each field, in one place.

The booking API applies these rules to what a guest sends; the stream target and the email functions apply them
again to what they read back, since anything with write access to the table (a person with the AWS CLI, a
migration) can store an item the API never saw. Each rule is a pure function of one value that returns why the
value is not acceptable, or None. The reasons speak of the value's shape, never repeat it, so they are safe to
log and to record.
"""

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from shared.tokens import is_reservation_id

MAX_NAME_LENGTH = 100
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64
MAX_DATETIME_LENGTH = 64
MIN_PARTY_SIZE = 1
MAX_PARTY_SIZE = 50
# The offsets real time zones use (UTC-12:00 Baker Island to UTC+14:00 Kiribati).
MIN_OFFSET = timedelta(hours=-12)
MAX_OFFSET = timedelta(hours=14)

# Joiners shape letters in several scripts (Persian, Indic) and join emoji sequences, so a name may hold them.
_ALLOWED_FORMAT_CHARACTERS = frozenset({"\u200c", "\u200d"})
# Line and paragraph separators break the line of a plain-text email, like a newline does.
_SEPARATOR_CATEGORIES = frozenset({"Zl", "Zp"})
# NOTE: Python parses more offsets than ISO 8601 writes (seconds, fractions, "+0100", "+01", minutes over 59), so
# the offset's text is checked too: Z, or a sign, two-digit hours, a colon and two-digit minutes.
_ISO_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:[0-5]\d)\Z")
# NOTE: addresses are limited to ASCII (RFC 5321 dot-atom local part, LDH domain labels). SES does not accept
# internationalized local parts; an internationalized domain can still be typed in its punycode form.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

_DATETIME_SHAPE = "must be an ISO 8601 date and time with a time zone offset"


def _is_forbidden_in_name(character: str, allow_markup: bool = False) -> bool:
    """Markup (unless allowed), and characters that are invisible or reorder or break the text around them.

    Category C holds control characters, format characters (among them the bidirectional embeddings, overrides
    and isolates U+202A-U+202E and U+2066-U+2069, which can make a name read as something else), surrogates,
    private-use and unassigned code points.
    """
    if character in "<>":
        return not allow_markup
    category = unicodedata.category(character)
    if category in _SEPARATOR_CATEGORIES:
        return True
    return category.startswith("C") and character not in _ALLOWED_FORMAT_CHARACTERS


def name_problem(value: Any) -> str | None:
    """Why ``value`` is not a usable first or last name (judged once trimmed), or None."""
    if not isinstance(value, str):
        return "must be a string"
    name = value.strip()
    if not name:
        return "must not be empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    if any(_is_forbidden_in_name(character) for character in name):
        return "must not contain markup or control characters"
    return None


def email_problem(value: Any) -> str | None:
    """Why ``value`` is not an email address SES can send to, or None."""
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


def parse_date_time(value: Any) -> tuple[datetime | None, str | None]:
    """``value`` as an aware datetime and None, or None and why it is not an ISO 8601 time in a real time zone."""
    if not isinstance(value, str):
        return None, "must be a string"
    if len(value) > MAX_DATETIME_LENGTH:
        return None, _DATETIME_SHAPE
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None, _DATETIME_SHAPE
    offset = moment.utcoffset()
    if offset is None:
        return None, "must include a time zone offset"
    if not _ISO_OFFSET.search(value):
        return None, "must give its time zone offset as Z or ±HH:MM"
    if not MIN_OFFSET <= offset <= MAX_OFFSET:
        return None, "must have a time zone offset between -12:00 and +14:00"
    return moment, None


def date_time_problem(value: Any) -> str | None:
    """Why ``value`` is not an ISO 8601 date and time in a real time zone, or None; past times are fine here."""
    return parse_date_time(value)[1]


def party_size_problem(value: Any) -> str | None:
    """Why ``value`` is not a party size, or None."""
    # bool is a subclass of int, and 4.0 or "4" are not whole numbers as JSON sends them: only a real int passes.
    # DynamoDB's Decimal passes once shared.reservations.plain_numbers has made a whole one an int.
    if type(value) is not int:
        return "must be a whole number"
    if not MIN_PARTY_SIZE <= value <= MAX_PARTY_SIZE:
        return f"must be between {MIN_PARTY_SIZE} and {MAX_PARTY_SIZE}"
    return None


def _text_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    return None


def _stored_name_problem(value: Any) -> str | None:
    """Why a stored name cannot be put in an email, or None.

    NOTE: looser than ``name_problem`` on purpose. The API refuses markup to keep new data clean, but an item
    written around it (an older version's, one typed with the AWS CLI) may hold a name such as ``<b>Ada``; the
    templates escape it, so the email shows it as text, as the console does. What cannot be emailed is a name
    that is not text, or one with characters that hide or break the text around them.
    """
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if len(value.strip()) > MAX_NAME_LENGTH:
        return f"must be at most {MAX_NAME_LENGTH} characters"
    if any(_is_forbidden_in_name(character, allow_markup=True) for character in value.strip()):
        return "must not contain control characters"
    return None


def _reservation_id_problem(value: Any) -> str | None:
    return None if is_reservation_id(value) else "must be a reservation id"


# The rule of each stored attribute that the stream target or an email reads.
STORED_ATTRIBUTE_RULES = {
    "reservationId": _reservation_id_problem,
    "status": _text_problem,
    "firstName": _stored_name_problem,
    "lastName": _stored_name_problem,
    "email": email_problem,
    "dateTime": date_time_problem,
    "partySize": party_size_problem,
    "createdAt": _text_problem,
    "confirmedAt": _text_problem,
}


def invalid_attributes(item: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """The names, in the order given, of the attributes of a stored ``item`` that are absent or break their rule."""
    return [name for name in names if STORED_ATTRIBUTE_RULES[name](item.get(name)) is not None]
