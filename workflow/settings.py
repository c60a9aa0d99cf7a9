"""The deployment settings read from CDK context, checked before anything is built."""

import re
from dataclasses import dataclass
from typing import Final

from constructs import Node

RESTAURANT_EMAIL: Final[str] = "restaurantEmail"
SENDER_EMAIL: Final[str] = "senderEmail"
RESTAURANT_NAME: Final[str] = "restaurantName"
ALARM_EMAIL: Final[str] = "alarmEmail"

# NOTE: deliberately loose: SES is the judge of an address; this only catches typos and placeholders left empty.
_EMAIL_PATTERN: Final[re.Pattern[str]] = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME_MAX_LENGTH: Final[int] = 100


class SettingsError(ValueError):
    """A context value is missing or malformed; the message names it."""


@dataclass(frozen=True)
class BookingSettings:
    """What changes between deployments: who receives the booking requests, who sends, and the restaurant."""

    restaurant_email: str
    sender_email: str
    restaurant_name: str
    alarm_email: str | None = None


def read_settings(node: Node) -> BookingSettings:
    """Read the settings from the context of ``node`` (cdk.json or ``-c key=value``), failing on the first bad one."""
    alarm_email = node.try_get_context(ALARM_EMAIL)
    return BookingSettings(
        restaurant_email=_email(node, RESTAURANT_EMAIL),
        sender_email=_email(node, SENDER_EMAIL),
        restaurant_name=_restaurant_name(node),
        alarm_email=_email(node, ALARM_EMAIL) if alarm_email not in (None, "") else None,
    )


def _text(node: Node, key: str) -> str:
    value = node.try_get_context(key)
    if value is None:
        raise SettingsError(f"Missing context value '{key}': set it in cdk.json or pass -c {key}=...")
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"Context value '{key}' must be a non-empty string, got {value!r}")
    return value.strip()


def _email(node: Node, key: str) -> str:
    value = _text(node, key)
    if not _EMAIL_PATTERN.fullmatch(value):
        raise SettingsError(f"Context value '{key}' is not an email address: {value!r}")
    return value


def _restaurant_name(node: Node) -> str:
    value = _text(node, RESTAURANT_NAME)
    if len(value) > _NAME_MAX_LENGTH or any(not char.isprintable() for char in value):
        raise SettingsError(
            f"Context value '{RESTAURANT_NAME}' must be printable text of at most {_NAME_MAX_LENGTH} characters"
        )
    return value
