"""Turn a DynamoDB stream record into the EventBridge event it stands for, if any. Pure: no AWS calls."""

import json
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from shared.contract import (
    DETAIL_TYPE_BOOKED,
    DETAIL_TYPE_CONFIRMED,
    EVENT_SOURCE,
    PARTITION_KEY,
    STATUS_CONFIRMED,
    STATUS_PENDING,
)
from shared.errors import RecordNotMappable
from shared.reservations import plain_numbers
from shared.rules import invalid_attributes

_deserializer = TypeDeserializer()
# The detail carries these attributes of the new image (docs/design.md); never the guest's name or email.
_DETAIL_ATTRIBUTES = (PARTITION_KEY, "status", "dateTime", "partySize", "createdAt")


@dataclass(frozen=True)
class BookingEvent:
    """One event to put on the bus, with what a log line needs to name it."""

    reservation_id: str
    detail_type: str
    detail: dict[str, Any]

    def as_entry(self, event_bus_name: str) -> dict[str, str]:
        """The PutEvents entry for this event."""
        return {
            "Source": EVENT_SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, separators=(",", ":")),
            "EventBusName": event_bus_name,
        }


def _image(change: dict[str, Any], name: str) -> dict[str, Any] | None:
    raw = change.get(name)
    if not isinstance(raw, dict):
        return None
    try:
        return plain_numbers({key: _deserializer.deserialize(value) for key, value in raw.items()})
    except (TypeError, ValueError, KeyError) as err:
        raise RecordNotMappable(f"{name} is not a DynamoDB image", (name,)) from err


def _detail(image: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """The event's detail; RecordNotMappable naming (never quoting) each attribute absent or of a wrong type or value.

    NOTE: an item can reach the table without the API (the AWS CLI, a migration), so the image is held to the
    same rules as a booking request: a detail that passes them is one the email functions can use.
    """
    names = (*_DETAIL_ATTRIBUTES, *extra)
    missing = [name for name in names if image.get(name) in (None, "")]
    if missing:
        raise RecordNotMappable(f"new image lacks {', '.join(missing)}", tuple(missing))
    invalid = invalid_attributes(image, names)
    if invalid:
        raise RecordNotMappable(f"new image has an invalid {', '.join(invalid)}", tuple(invalid))
    return {name: image[name] for name in names}


def map_record(record: dict[str, Any]) -> BookingEvent | None:
    """The event a stream record stands for, None when it stands for none; RecordNotMappable if it is malformed.

    INSERT of a PENDING reservation is a booking; MODIFY from PENDING to CONFIRMED is a confirmation. Every other
    change (REMOVE, including TTL expiry, and any other MODIFY, such as the token hash or an email failure being
    recorded) stands for no event.
    """
    event_name = record.get("eventName")
    if event_name == "REMOVE":
        return None
    if event_name not in ("INSERT", "MODIFY"):
        raise RecordNotMappable("unknown eventName", ("eventName",))
    change = record.get("dynamodb")
    if not isinstance(change, dict):
        raise RecordNotMappable("record has no dynamodb section", ("dynamodb",))
    new_image = _image(change, "NewImage")
    if new_image is None:
        raise RecordNotMappable("record has no NewImage", ("NewImage",))
    if not isinstance(new_image.get("status"), str):
        raise RecordNotMappable("new image has an invalid status", ("status",))

    if event_name == "INSERT":
        if new_image.get("status") != STATUS_PENDING:
            return None
        detail = _detail(new_image)
        return BookingEvent(detail[PARTITION_KEY], DETAIL_TYPE_BOOKED, detail)

    old_image = _image(change, "OldImage")
    if old_image is None:
        raise RecordNotMappable("MODIFY record has no OldImage", ("OldImage",))
    if old_image.get("status") != STATUS_PENDING or new_image.get("status") != STATUS_CONFIRMED:
        return None
    detail = _detail(new_image, extra=("confirmedAt",))
    return BookingEvent(detail[PARTITION_KEY], DETAIL_TYPE_CONFIRMED, detail)
