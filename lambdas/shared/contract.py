"""Names that more than one piece of the system must agree on.

The stream target emits events with these constants and the CDK rules match on the same constants,
so the producer and its consumers cannot drift apart. The infrastructure imports this module as
``lambdas.shared.contract``; the handlers, whose code root is ``lambdas/``, import ``shared.contract``.
"""

from typing import Final

EVENT_SOURCE: Final[str] = "restaurant.booking"
DETAIL_TYPE_BOOKED: Final[str] = "OnRestaurantBooked"
DETAIL_TYPE_CONFIRMED: Final[str] = "OnReservationConfirmed"

# Reservation table: one item per reservation, keyed by its id.
PARTITION_KEY: Final[str] = "reservationId"
TTL_ATTRIBUTE: Final[str] = "expiresAt"
STATUS_PENDING: Final[str] = "PENDING"
STATUS_CONFIRMED: Final[str] = "CONFIRMED"


class EnvVar:
    """Environment variable names that the stack sets and the handlers read."""

    TABLE_NAME: Final[str] = "TABLE_NAME"
    EVENT_BUS_NAME: Final[str] = "EVENT_BUS_NAME"
    FAILED_RECORDS_QUEUE_URL: Final[str] = "FAILED_RECORDS_QUEUE_URL"
    IDEMPOTENCY_TABLE_NAME: Final[str] = "IDEMPOTENCY_TABLE_NAME"
    SENDER_EMAIL: Final[str] = "SENDER_EMAIL"
    RESTAURANT_EMAIL: Final[str] = "RESTAURANT_EMAIL"
    RESTAURANT_NAME: Final[str] = "RESTAURANT_NAME"
    TEMPLATE_NAME: Final[str] = "TEMPLATE_NAME"
    API_URL: Final[str] = "API_URL"
