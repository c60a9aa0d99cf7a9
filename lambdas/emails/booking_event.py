"""Check that the input of an email function is the booking event it handles."""

from typing import Any

from shared.errors import InvalidEvent
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
