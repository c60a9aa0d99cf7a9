"""Configuration of each function, read once from the environment at cold start.

Each handler module calls its loader at import, so a missing variable stops the function before it serves
anything, with the variable's name in the error.
"""

import os
from dataclasses import dataclass

from shared.contract import EnvVar
from shared.errors import ConfigurationMissing


def _require(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationMissing(f"environment variable {name} is not set")
    return value


@dataclass(frozen=True)
class BookingApiConfig:
    """Settings of the booking API function."""

    table_name: str


@dataclass(frozen=True)
class StreamTargetConfig:
    """Settings of the stream target function."""

    event_bus_name: str
    failed_records_queue_url: str


@dataclass(frozen=True)
class RestaurantEmailConfig:
    """Settings of the function that asks the restaurant to confirm a booking."""

    table_name: str
    idempotency_table_name: str
    sender_email: str
    restaurant_email: str
    restaurant_name: str
    template_name: str
    api_url: str


@dataclass(frozen=True)
class GuestEmailConfig:
    """Settings of the function that tells the guest the booking is confirmed."""

    table_name: str
    idempotency_table_name: str
    sender_email: str
    restaurant_name: str
    template_name: str


def load_booking_api_config() -> BookingApiConfig:
    """Read the booking API settings; raise ConfigurationMissing naming the first absent variable."""
    return BookingApiConfig(table_name=_require(EnvVar.TABLE_NAME))


def load_stream_target_config() -> StreamTargetConfig:
    """Read the stream target settings; raise ConfigurationMissing naming the first absent variable."""
    return StreamTargetConfig(
        event_bus_name=_require(EnvVar.EVENT_BUS_NAME),
        failed_records_queue_url=_require(EnvVar.FAILED_RECORDS_QUEUE_URL),
    )


def load_restaurant_email_config() -> RestaurantEmailConfig:
    """Read the restaurant email settings; raise ConfigurationMissing naming the first absent variable."""
    api_url = _require(EnvVar.API_URL)
    return RestaurantEmailConfig(
        table_name=_require(EnvVar.TABLE_NAME),
        idempotency_table_name=_require(EnvVar.IDEMPOTENCY_TABLE_NAME),
        sender_email=_require(EnvVar.SENDER_EMAIL),
        restaurant_email=_require(EnvVar.RESTAURANT_EMAIL),
        restaurant_name=_require(EnvVar.RESTAURANT_NAME),
        template_name=_require(EnvVar.TEMPLATE_NAME),
        # The link is built as API_URL + "confirmReservation/...", so the base must end with a slash.
        api_url=api_url if api_url.endswith("/") else f"{api_url}/",
    )


def load_guest_email_config() -> GuestEmailConfig:
    """Read the guest email settings; raise ConfigurationMissing naming the first absent variable."""
    return GuestEmailConfig(
        table_name=_require(EnvVar.TABLE_NAME),
        idempotency_table_name=_require(EnvVar.IDEMPOTENCY_TABLE_NAME),
        sender_email=_require(EnvVar.SENDER_EMAIL),
        restaurant_name=_require(EnvVar.RESTAURANT_NAME),
        template_name=_require(EnvVar.TEMPLATE_NAME),
    )
