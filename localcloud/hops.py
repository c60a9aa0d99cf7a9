"""One log line per hop of a booking (api, table, stream, bus, execution, email), keyed by reservation id.

A person follows one booking through the local cloud by grepping its reservation id in this log.
Values often come from requests (a reservation id in a URL path, a table name in a body), so every value is
escaped: a hop is always exactly one line, and nothing a caller sends can forge another one.
"""

import json
import logging
from typing import Any

_logger = logging.getLogger("localcloud.hops")

HOPS = ("api", "table", "stream", "bus", "execution", "email", "lambda", "setup")
_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(value: object) -> str:
    """The value as text with backslashes and every character that is not printable escaped (``\\n``, ``\\x00``)."""
    return "".join(_escape_character(character) for character in str(value))


def _escape_character(character: str) -> str:
    if character in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[character]
    if character.isprintable():
        return character
    code = ord(character)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def hop(stage: str, message: str, reservation_id: str | None = None, **context: Any) -> None:
    """Log one hop: ``[stage] reservation=<id> message key=value ...``, each value escaped to stay on one line."""
    keys = " ".join(f"{key}={escape(value)}" for key, value in context.items() if value is not None)
    reservation = f"reservation={escape(reservation_id)} " if reservation_id else ""
    _logger.info("[%s] %s%s%s", stage, reservation, escape(message), f" {keys}" if keys else "")


def reservation_in_detail(detail: Any) -> str | None:
    """``reservationId`` of an event's detail, given as a dict or as JSON text; None when there is none."""
    if isinstance(detail, str | bytes):
        try:
            detail = json.loads(detail)
        except ValueError:
            return None
    reservation_id = detail.get("reservationId") if isinstance(detail, dict) else None
    return reservation_id if isinstance(reservation_id, str) else None


def reservation_of(event: Any) -> str | None:
    """The reservation a booking event is about, ``detail.reservationId``; the event as a dict or as JSON text.

    A state machine's execution input is such an event, so this also names the booking an execution is about.
    """
    if isinstance(event, str | bytes):
        try:
            event = json.loads(event)
        except ValueError:
            return None
    return reservation_in_detail(event.get("detail")) if isinstance(event, dict) else None
