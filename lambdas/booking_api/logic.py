"""What the booking API does, independent of API Gateway: book, show a confirmation, confirm."""

import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from shared.contract import PARTITION_KEY, STATUS_CONFIRMED, STATUS_PENDING, TTL_ATTRIBUTE
from shared.observability import logger
from shared.reservations import ReservationTable
from shared.tokens import is_reservation_id, token_hash

from booking_api.validation import BookingRequest

RETENTION_SECONDS = 30 * 24 * 60 * 60
# secrets.token_urlsafe output; anything else cannot be a token we issued.
_TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{16,128}")


class Outcome(Enum):
    """What a confirmation request led to."""

    SHOW_FORM = "show_form"
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ConfirmationResult:
    """The outcome plus the two facts a page may show: when, and for how many."""

    outcome: Outcome
    date_time: str = ""
    party_size: int = 0


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def _token_matches(item: dict[str, Any], token: str) -> bool:
    stored = item.get("confirmTokenHash")
    if not isinstance(stored, str):
        return False
    return hmac.compare_digest(stored.encode("utf-8"), token_hash(token).encode("utf-8"))


def book(request: BookingRequest, table: ReservationTable, now: datetime) -> str:
    """Store a PENDING reservation and return its id."""
    reservation_id = str(uuid.uuid4())
    table.create_pending(
        {
            PARTITION_KEY: reservation_id,
            "firstName": request.first_name,
            "lastName": request.last_name,
            "email": request.email,
            "dateTime": request.date_time,
            "partySize": request.party_size,
            "createdAt": now.isoformat(timespec="seconds"),
            # Epoch arithmetic rather than datetime + timedelta: a far-future year cannot overflow.
            TTL_ATTRIBUTE: int(request.starts_at.timestamp()) + RETENTION_SECONDS,
        }
    )
    logger.append_keys(reservationId=reservation_id)
    logger.set_correlation_id(reservation_id)
    logger.info("Reservation stored", status=STATUS_PENDING, partySize=request.party_size)
    return reservation_id


def _usable_token(reservation_id: str, token: str | None) -> str | None:
    """The token if both it and the id have the shape this system issues, else None."""
    if not is_reservation_id(reservation_id) or token is None or not _TOKEN_FORMAT.fullmatch(token):
        return None
    return token


def _result(outcome: Outcome, item: dict[str, Any]) -> ConfirmationResult:
    return ConfirmationResult(outcome, str(item.get("dateTime", "")), item.get("partySize", 0))


def view_confirmation(reservation_id: str, token: str | None, table: ReservationTable) -> ConfirmationResult:
    """Decide what the confirmation link shows. Reads only, so mail scanners may prefetch it safely."""
    usable = _usable_token(reservation_id, token)
    if usable is None:
        return ConfirmationResult(Outcome.NOT_FOUND)
    item = table.get(reservation_id)
    if item is None or not _token_matches(item, usable):
        return ConfirmationResult(Outcome.NOT_FOUND)
    if item.get("status") == STATUS_CONFIRMED:
        return _result(Outcome.ALREADY_CONFIRMED, item)
    if item.get("status") == STATUS_PENDING:
        return _result(Outcome.SHOW_FORM, item)
    return ConfirmationResult(Outcome.NOT_FOUND)


def confirm(reservation_id: str, token: str | None, table: ReservationTable, now: datetime) -> ConfirmationResult:
    """Confirm a PENDING reservation whose token matches; a repeat with the same token changes nothing."""
    usable = _usable_token(reservation_id, token)
    if usable is None:
        logger.info("Confirmation refused", reason="malformed")
        return ConfirmationResult(Outcome.NOT_FOUND)
    logger.set_correlation_id(reservation_id)
    confirmed = table.confirm(reservation_id, token_hash(usable), now.isoformat(timespec="seconds"))
    if confirmed is not None:
        logger.info("Reservation confirmed", reservationId=reservation_id)
        return _result(Outcome.CONFIRMED, confirmed)
    # The condition failed: tell a repeat of an earlier success (same token) from an unknown id or a wrong token.
    item = table.get(reservation_id)
    if item is not None and item.get("status") == STATUS_CONFIRMED and _token_matches(item, usable):
        logger.info("Reservation already confirmed", reservationId=reservation_id)
        return _result(Outcome.ALREADY_CONFIRMED, item)
    logger.info("Confirmation refused", reservationId=reservation_id, reason="unknown or wrong token")
    return ConfirmationResult(Outcome.NOT_FOUND)
