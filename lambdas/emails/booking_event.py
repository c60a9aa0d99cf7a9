"""Check that the input of an email function is the booking event it handles, and its reservation usable."""

from typing import Any

from shared.errors import InvalidEvent, InvalidReservation
from shared.observability import logger
from shared.rules import invalid_attributes
from shared.tokens import is_reservation_id


def reservation_id_of(event: Any, detail_type: str) -> str:
    """The reservation id of an EventBridge ``detail_type`` event; InvalidEvent for anything else."""
    if not isinstance(event, dict):
        raise InvalidEvent("the input is not an EventBridge event")
    if event.get("detail-type") != detail_type:
        raise InvalidEvent(f"expected a {detail_type} event")
    detail = event.get("detail")
    reservation_id = detail.get("reservationId") if isinstance(detail, dict) else None
    if not is_reservation_id(reservation_id):
        raise InvalidEvent("detail.reservationId is missing or not a reservation id")
    return str(reservation_id)


def require_valid(reservation: dict[str, Any], reservation_id: str, attributes: tuple[str, ...]) -> None:
    """Raise InvalidReservation naming each of ``attributes`` that is absent or breaks the booking rules.

    NOTE: anything with write access to the table can store an item the API never checked; this keeps such an
    item from being emailed out as garbage. Only attribute names are logged and raised: the values may be a
    guest's name or address.
    """
    invalid = invalid_attributes(reservation, attributes)
    if invalid:
        logger.warning("Reservation invalid", reservationId=reservation_id, fields=invalid)
        raise InvalidReservation(f"reservation {reservation_id} has an invalid {', '.join(invalid)}")
